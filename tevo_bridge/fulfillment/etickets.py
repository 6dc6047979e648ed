"""E-tickets for one item: POS files → exactly the item's pages → TEvo (docs/tevo-api.md §4).

Crash safety rests on one rule: TEvo's item state decides, never our memory.
``eticket_finalized`` means done; pages uploaded but not finalized mean an
earlier run died part-way, so they are removed and the item starts again (§4
step 4), because whether a second add appends or replaces is Unknown and page
numbers must be known for finalize.  A state-changing call that ends in doubt
is never repeated before the item is re-fetched (§9 retry table).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tevo_bridge.crashpoints import crashpoint
from tevo_bridge.fulfillment.confine import allowed_ticket_dirs
from tevo_bridge.fulfillment.context import Context, Outcome, PosFacade
from tevo_bridge.fulfillment.pages import SelectedPages, TicketFileProblem, select_pages
from tevo_bridge.fulfillment.pdf_work import off_loop
from tevo_bridge.log import get_logger
from tevo_bridge.pipeline import pos_args, reads
from tevo_bridge.pipeline.processor import StepFailed
from tevo_bridge.pos.errors import CannotSupply, PosError, PosTimeout, TicketFileUnreadable, TicketsNotReady
from tevo_bridge.pos.types import TicketFile
from tevo_bridge.tevo.errors import OutcomeUnknown, TevoError, ValidationFailed
from tevo_bridge.tevo.models import Item, Order

__all__ = ["batches", "chosen_pages", "fulfil_item", "keep_chosen_pages", "ticket_files_for"]

log = get_logger(__name__)

ATTEMPTS = 2  # a refused or doubtful upload is started again once in the same run, then left to the pipeline

# {"files":["…","…"]}: the envelope, then per file two quotes and a comma (client.add_etickets).
_ENVELOPE = len('{"files":[]}')
_PER_FILE = 3


class _StartAgain(Exception):
    """The item must be removed and uploaded again; ``item`` is its re-fetched state."""

    def __init__(self, item: Item, cause: TevoError) -> None:
        super().__init__(str(cause))
        self.item = item
        self.cause = cause


async def fulfil_item(ctx: Context, order: Order, item: Item) -> Outcome:
    if item.eticket_finalized:
        return Outcome.done(f"item {item.id}: e-tickets already finalized at TEvo")
    selected = chosen_pages(order, item)
    if selected is None:
        files = await _ticket_files(ctx, order, item)
        if isinstance(files, Outcome):
            return files
        try:
            # Parsing and cutting PDFs is CPU work: off the event loop, which is answering holds meanwhile.
            selected = await off_loop(select_pages, files, item.seat_list, item_id=item.id, quantity=item.quantity,
                                      ticket_dirs=allowed_ticket_dirs(ctx.settings.ticket_dirs, ctx.pos))
        except TicketFileProblem as problem:
            # Checked before any TEvo call, so a bad file never leaves a half-uploaded item behind.
            await ctx.audit("etickets.refused", order.id, str(problem), item_id=item.id)
            return Outcome.review(str(problem))

    last: _StartAgain | None = None
    for _ in range(ATTEMPTS):
        try:
            if item.eticket_pdf_pages:
                item = await _remove(ctx, order, item)
            if ctx.settings.eticket_method == "single_file":
                return await _deliver_single_file(ctx, order, item, selected)
            return await _add_and_finalize(ctx, order, item, selected)
        except _StartAgain as again:
            if again.item.eticket_finalized:
                return Outcome.done(f"item {item.id}: TEvo shows the e-tickets finalized")
            item, last = again.item, again
    assert last is not None
    if isinstance(last.cause, ValidationFailed):
        return Outcome.review(f"item {item.id}: TEvo refused the e-tickets twice: {last.cause}")
    raise StepFailed(f"item {item.id}: e-tickets not confirmed by TEvo: {last.cause}")


def keep_chosen_pages(order: Order, item: Item, selected: SelectedPages) -> None:
    """The pages the check before accepting chose (``precheck``): fulfilment in the same job run uploads them.

    Asking the POS for the files again and cutting them again a moment later was a sixth of the drain's
    daemon CPU (pypdf) and a POS call per e-ticket item. Kept for this run only (``pipeline/reads.py``), under
    the seats and quantity they were chosen for: if TEvo's item says otherwise by the time it is uploaded,
    the files are asked for and cut afresh.
    """
    reads.keep(_chosen_key(order, item), selected)


def chosen_pages(order: Order, item: Item) -> SelectedPages | None:
    found = reads.kept(_chosen_key(order, item))
    return found if isinstance(found, SelectedPages) else None


def _chosen_key(order: Order, item: Item) -> tuple[str, int, int, tuple[str, ...], int]:
    return ("eticket_pages", order.id, item.id, tuple(item.seat_list), item.quantity)


def batches(pages: Sequence[bytes], max_bytes: int) -> Iterator[list[bytes]]:
    """Uploads whose JSON body stays under ``max_bytes`` (base64 adds a third); an oversized page goes alone."""
    batch: list[bytes] = []
    size = _ENVELOPE
    for page in pages:
        cost = _b64_len(page) + _PER_FILE
        if batch and size + cost > max_bytes:
            yield batch
            batch, size = [], _ENVELOPE
        batch.append(page)
        size += cost
    if batch:
        yield batch


async def _ticket_files(ctx: Context, order: Order, item: Item) -> list[TicketFile] | Outcome:
    return await ticket_files_for(ctx.pos, order, item)


async def ticket_files_for(pos: PosFacade, order: Order, item: Item) -> list[TicketFile] | Outcome:
    """The item's files from the POS, or why there are none: wait (they come later) or review."""
    try:
        files = await pos.ticket_files(pos_args.pos_order(order), pos_args.pos_item(order, item))
    except PosTimeout as exc:
        raise StepFailed(f"item {item.id}: {exc}") from None
    except PosError as exc:
        if isinstance(exc.original, TicketsNotReady):
            return Outcome.wait(f"item {item.id}: the POS has no ticket files yet: {exc.original}")
        if isinstance(exc.original, (TicketFileUnreadable, *_FILE_ERRORS)):
            # A file that is not there is an unreadable file, not a late one: retrying will not bring it back.
            return Outcome.review(f"item {item.id}: {_unreadable(exc.original)}")
        if isinstance(exc.original, CannotSupply):
            return Outcome.review(f"item {item.id}: the POS cannot supply ticket files: {exc.original}")
        raise StepFailed(f"item {item.id}: {exc}") from None
    if files:
        return list(files)
    if item.ticket_group.in_hand is False:
        # Sold before the seller holds the tickets: the POS will have the PDFs later.
        return Outcome.wait(f"item {item.id}: tickets not in hand yet; the POS has no e-ticket files")
    return Outcome.review(f"item {item.id}: the POS has no e-ticket files for it (pos_ticket_files returned nothing)")


#: A plugin's bare file errors: the path it names is wrong. Not every ``OSError``: a connection error (requests'
#: are ``OSError`` too) or a timeout talking to a POS server is transient, and stays a retried failure.
_FILE_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def _unreadable(error: BaseException) -> str:
    """What a person must fix; a plugin that lets ``FileNotFoundError`` out still gets the path named."""
    if isinstance(error, OSError):
        where = str(error.filename) if error.filename is not None else "(path not given by the POS)"
        return str(TicketFileUnreadable(where, error.strerror or f"{type(error).__name__}: {error}"))
    return str(error)


async def _remove(ctx: Context, order: Order, item: Item) -> Item:
    pages = item.eticket_pdf_pages
    await ctx.tevo.remove_etickets(order.id, item)
    await ctx.audit("etickets.remove", order.id, f"item {item.id}: removed {pages} unfinalized page(s) to start again",
                    item_id=item.id)
    return await ctx.tevo.get_item(order.id, item)


async def _add_and_finalize(ctx: Context, order: Order, item: Item, selected: SelectedPages) -> Outcome:
    uploaded = 0
    for batch in batches(selected.pages, ctx.settings.max_upload_bytes):
        try:
            await ctx.tevo.add_etickets(order.id, item, batch)
        except (OutcomeUnknown, ValidationFailed) as exc:
            raise await _refetched(ctx, order, item, "etickets.add", exc) from None
        uploaded += len(batch)
        await ctx.audit("etickets.add", order.id, f"item {item.id}: uploaded {len(batch)} page(s)",
                        item_id=item.id, pages=len(batch), seats=list(selected.seats[uploaded - len(batch):uploaded]))
    crashpoint("after_add_etickets")  # pages uploaded, not finalized
    # TEvo merges every file into one document, numbered 1..N in upload order (§4 step 2).
    keep_pages = list(range(1, uploaded + 1))
    try:
        await ctx.tevo.finalize_etickets(order.id, item, keep_pages)
    except (OutcomeUnknown, ValidationFailed) as exc:
        raise await _refetched(ctx, order, item, "etickets.finalize", exc) from None
    await ctx.audit("etickets.finalize", order.id, f"item {item.id}: finalized pages {keep_pages}",
                    item_id=item.id, keep_pages=keep_pages, seats=list(selected.seats))
    return Outcome.done(f"item {item.id}: {uploaded} e-ticket(s) finalized")


async def _deliver_single_file(ctx: Context, order: Order, item: Item, selected: SelectedPages) -> Outcome:
    # The file must hold every ticket of the item and nothing else (§4), and the body
    # names the item by order_item_id; the client makes that choice (§4 conflict decision).
    merged = await off_loop(selected.merged)
    if _b64_len(merged) > ctx.settings.max_upload_bytes:
        # One file cannot be split across requests; TEvo's body limit is Unknown (§4 step 3), so try anyway.
        log.warning("fulfil.etickets.large_upload", order_id=order.id, item_id=item.id, bytes=len(merged))
    try:
        await ctx.tevo.deliver_etickets(order.id, [(item, merged)])
    except (OutcomeUnknown, ValidationFailed) as exc:
        raise await _refetched(ctx, order, item, "etickets.deliver", exc) from None
    await ctx.audit("etickets.deliver", order.id, f"item {item.id}: delivered one PDF of {len(selected.pages)} page(s)",
                    item_id=item.id, order_item_id=item.order_item_id, seats=list(selected.seats))
    return Outcome.done(f"item {item.id}: {len(selected.pages)} e-ticket(s) delivered")


async def _refetched(ctx: Context, order: Order, item: Item, action: str, exc: TevoError) -> _StartAgain:
    fresh = await ctx.tevo.get_item(order.id, item)
    state = "finalized" if fresh.eticket_finalized else f"not finalized, {fresh.eticket_pdf_pages or 0} page(s) uploaded"
    await ctx.audit(action, order.id, f"item {item.id}: {exc}; re-fetched: {state}", item_id=item.id,
                    error=type(exc).__name__)
    return _StartAgain(fresh, exc)


def _b64_len(data: bytes) -> int:
    return 4 * ((len(data) + 2) // 3)
