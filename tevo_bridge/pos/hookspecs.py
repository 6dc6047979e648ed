"""The POS contract: one hook per thing tevo-bridge asks of a seller's point of sale.

Every hook is a plain synchronous function. The host calls it in a worker thread under a time
budget, always with keyword arguments, so a plugin may implement a hook with fewer arguments
than the spec names (pluggy passes only those it asks for) and new arguments can be added at the
end without breaking old plugins. All hooks but ``pos_order_event`` are ``firstresult``: exactly
one POS plugin is active, and its answer is the answer.

The contract is versioned (``CONTRACT_VERSION``): a plugin states the major versions it was built
for in a module attribute ``TEVO_BRIDGE_CONTRACT`` (a tuple of ints), and a plugin that states
nothing is taken as version 1. Version 2 only adds optional hooks, so a version 1 plugin keeps
working; a plugin built only for another major version is refused at load time.

Idempotency matters because the daemon re-runs a step after a crash or a timeout: every hook
that writes is keyed by a TEvo id, and a repeated call with the same key must not write twice.
"""

# Spec bodies are never called (pluggy only reads their signatures and docstrings).
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import pluggy

from tevo_bridge import PROJECT_NAME
from tevo_bridge.pos.types import (
    Availability,
    Buyer,
    Customer,
    Hold,
    HoldResult,
    Invoice,
    Item,
    MobileTransfer,
    Order,
    OrderEvent,
    PosHealth,
    PriceDecision,
    StockListing,
    TicketFile,
)

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

#: The contract this tevo-bridge implements (docs/plugins.md, "Changelog").
CONTRACT_VERSION: Final = 2
#: The major versions a plugin may declare and still be loaded: 2 only added to 1.
SUPPORTED_CONTRACTS: Final = (1, 2)
#: The module attribute (on the plugin class's module, or the class itself) naming the versions a plugin supports.
CONTRACT_ATTRIBUTE: Final = "TEVO_BRIDGE_CONTRACT"

#: Hooks the active POS plugin must implement, or the daemon refuses to start.
REQUIRED_HOOKS: Final = (
    "pos_check_inventory",
    "pos_accept_price",
    "pos_find_customer",
    "pos_create_customer",
    "pos_hold",
    "pos_release_hold",
    "pos_create_invoice",
    "pos_ticket_files",
)
#: Hooks a plugin may leave out; the host then reports ``has_hook(name) is False``.
OPTIONAL_HOOKS: Final = (
    "pos_mobile_transfer", "pos_order_event", "pos_health", "pos_startup", "pos_shutdown", "pos_void_invoice",
    "pos_list_stock", "pos_hold_many",
)
ALL_HOOKS: Final = REQUIRED_HOOKS + OPTIONAL_HOOKS


def hook_name(name: str) -> str:
    """The spec name for ``name``, which config and callers may give without the ``pos_`` prefix."""
    return name if name.startswith("pos_") else f"pos_{name}"


#: Seconds each hook may run before the caller gets ``PosTimeout``. ``pos_hold`` is tight because
#: TEvo's buyer waits at checkout and expects an answer within 5 s on average (docs/tevo-api.md §7.1).
DEFAULT_BUDGETS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "pos_check_inventory": 10.0,
        "pos_accept_price": 10.0,
        "pos_find_customer": 10.0,
        "pos_create_customer": 10.0,
        "pos_hold": 3.0,
        "pos_hold_many": 3.0,
        "pos_release_hold": 10.0,
        "pos_create_invoice": 30.0,
        "pos_ticket_files": 60.0,
        "pos_mobile_transfer": 30.0,
        "pos_order_event": 5.0,
        "pos_health": 5.0,
        "pos_startup": 30.0,
        "pos_shutdown": 10.0,
        "pos_void_invoice": 30.0,
        "pos_list_stock": 60.0,
    }
)


@hookspec(firstresult=True)
def pos_check_inventory(item: Item) -> Availability:
    """How many tickets of ``item.remote_id``'s group can be sold now.

    Arguments: ``item``, the order line or hold being checked; only ``remote_id`` and
    ``quantity`` usually matter.
    Returns: ``Availability(remote_id, available, known)``; ``available`` is on hand minus active
    holds minus sold, never negative; ``known=False`` (and ``available=0``) for a remote id the
    POS does not have.
    Idempotency: read-only; any number of calls change nothing.
    Budget: 10 s.
    """


@hookspec(firstresult=True)
def pos_accept_price(item: Item) -> PriceDecision:
    """Whether the seller sells ``item`` at ``item.price``, the per-ticket price TEvo pays.

    Arguments: ``item``, the order line (or the hold, with its price) to price.
    Returns: ``PriceDecision(acceptable, reason)``; a refusal carries a reason a person can read,
    which goes to the audit log and the rejection.
    Idempotency: read-only.
    Budget: 10 s.
    """


@hookspec(firstresult=True)
def pos_find_customer(buyer: Buyer) -> Customer | None:
    """The POS customer for a TEvo ``Client`` buyer, before invoicing a sale to them.

    Arguments: ``buyer``, with TEvo's client id in ``buyer.id`` and name, email and phone when
    TEvo gave them. Not called for sales to TEvo itself (``Office`` 6).
    Returns: the ``Customer`` whose TEvo client id is ``buyer.id``, or ``None`` if there is none.
    Idempotency: read-only.
    Budget: 10 s.
    """


@hookspec(firstresult=True)
def pos_create_customer(buyer: Buyer) -> Customer:
    """Create the POS customer for a ``Client`` buyer that ``pos_find_customer`` did not find.

    Arguments: ``buyer``, as for ``pos_find_customer``.
    Returns: the new ``Customer``.
    Idempotency: keyed by ``buyer.id``; a second call for the same buyer returns the customer the
    first one created and creates nothing (the first call may have timed out after writing).
    Budget: 10 s.
    """


@hookspec(firstresult=True)
def pos_hold(hold: Hold) -> HoldResult:
    """Reserve ``hold.quantity`` tickets of ``hold.remote_id``: the one place stock is promised.

    Called for an Order Integration checkout (``hold.order_id is None``, ``global_id`` is TEvo's)
    and for every TEvo order before the daemon accepts it (``hold.order_id`` set, ``global_id``
    ``order-<order id>-item-<item id>-r<round>``). Both kinds must compete for the same stock under
    the same rules, inside the POS's own transaction or lock: if a reservation and an Order
    Integration hold could both take the last tickets, two buyers would be told yes.
    Arguments: ``hold``, with the ``global_id``, the ``remote_id`` and ``quantity``, and when known
    the per-ticket ``price``, TEvo's ``ticket_group_id``, when the hold lapses (``expires_at``) and
    the TEvo ``order_id`` it reserves for.
    Returns: ``HoldResult(held=True, hold_id, available)`` once the tickets are reserved, or
    ``HoldResult(held=False, reason=...)`` with ``insufficient_quantity``, ``unknown_remote_id``,
    ``price_not_acceptable`` (``hold.price``, a price per ticket whatever the quantity, below what the
    seller takes per ticket) or ``global_id_used``
    (the global id's hold was already closed, or named other tickets). A hold never takes
    availability below zero, even under concurrent calls from several threads or processes, and
    stops counting once ``expires_at`` has passed.
    Idempotency: keyed by ``global_id``; repeating a successful hold returns the same ``hold_id``
    and reserves nothing more.
    Budget: 3 s (TEvo's buyer is waiting at checkout).
    """


@hookspec(firstresult=True)
def pos_hold_many(holds: list[Hold]) -> list[HoldResult | Exception]:
    """Optional (contract 2). Place several Order Integration holds in one call: one round trip or transaction.

    When a plugin implements it, the daemon sends TEvo's checkout holds here instead of to
    ``pos_hold``: the holds that arrive while a batch is with the POS go together as the next
    batch (at most 32), so a burst of checkouts costs the POS a few calls, not one each.
    Reservations for orders still go to ``pos_hold``, which stays required.
    Arguments: ``holds``, Order Integration holds (``order_id`` None), each with its own ``global_id``
    (never two with the same ``global_id`` in one call).
    Returns: one answer per hold, in the same order: the ``HoldResult`` ``pos_hold`` would have
    answered for that hold, placed as if one after another (so holds of one batch competing for the
    last tickets never oversell), or an ``Exception`` for a hold that failed on its own (answered
    TEvo as a POS error). Raising fails every hold of the batch: each is answered as a POS error and
    released by a job, so write nothing, or nothing that a release does not undo.
    Idempotency: keyed by each hold's ``global_id``, as ``pos_hold``.
    Budget: 3 s, and never past the earliest deadline of the holds in the call (``deadline.time_left()``).
    """


@hookspec(firstresult=True)
def pos_release_hold(hold: Hold) -> bool:
    """Free the tickets of a hold TEvo released, or that expired without an invoice.

    Arguments: ``hold``, found by ``hold.global_id``.
    Returns: ``True`` if tickets were freed now, ``False`` if there was nothing to free (unknown,
    already released, expired, or invoiced). Releasing an invoiced hold must never free the sold
    tickets.
    Idempotency: keyed by ``global_id``; a second release returns ``False`` and changes nothing.
    Budget: 10 s.
    """


@hookspec(firstresult=True)
def pos_create_invoice(order: Order, customer: Customer | None) -> Invoice:
    """Sell every item of a TEvo order in the POS, all or nothing.

    Arguments: ``order`` (TEvo's ``order_id``, ``buyer``, ``items``, ``total``; each item's
    ``global_id`` names the hold that reserved it: the Order Integration hold the order came from,
    or the daemon's reservation); ``customer``, the POS customer for a ``Client`` sale, or ``None``
    for a sale to TEvo. Contract 2 adds what a broker's invoice carries: ``order.oid`` and
    ``reference``, each item's ``price`` and ``fees``, ``order.shipping``, ``notes`` and ``currency``.
    Returns: ``Invoice(invoice_id, created=True)``. An item whose ``global_id`` names a held hold of
    the item's ``remote_id`` and ``quantity`` consumes that hold (it becomes invoiced) instead of
    taking stock twice; an item whose hold lapsed takes from stock like any other.
    Raises: ``tevo_bridge.pos.errors.OutOfStock`` or ``UnknownRemoteId`` (both ``CannotSupply``)
    when any item cannot be supplied; nothing is written then. Never oversells.
    Idempotency: keyed by ``order.order_id``; a repeat returns the same ``invoice_id`` with
    ``created=False`` and sells nothing more.
    Budget: 30 s.
    """


@hookspec(firstresult=True)
def pos_ticket_files(order: Order, item: Item) -> list[TicketFile] | None:
    """The e-ticket PDFs for an item, and which page of each is which seat.

    Called before the order is accepted (are the files there and deliverable?) and again to deliver.
    Arguments: ``order`` and one of its ``item``s (``item.seats`` are the seats TEvo sold).
    Returns: a list of ``TicketFile(pdf, seat_pages, name)``, where ``seat_pages`` maps each of
    the item's seats to its 1-based page in that file (covers and adverts are simply not named);
    or ``None`` if the POS has no files for this item; never ``[]``, which the host refuses (contract 2).
    Raises: ``tevo_bridge.pos.errors.TicketsNotReady`` when the files will come later: the order is
    accepted and waits in ``awaiting_tickets``, asked again until they come;
    ``tevo_bridge.pos.errors.TicketFileUnreadable`` when a file it names is missing or unreadable:
    the order goes to a person at once, with the path and the fix (waiting would not help).
    Idempotency: read-only; the same call returns the same files.
    Budget: 60 s.
    """


@hookspec(firstresult=True)
def pos_mobile_transfer(order: Order, item: Item) -> MobileTransfer | None:
    """Optional. How an item goes to the buyer when TEvo's shipment is ``TBD`` (a mobile transfer).

    Arguments: ``order`` and one of its ``item``s.
    Returns: ``MobileTransfer(transfer_type, links, transfer_source)``, with ``transfer_type`` one
    of ``TMMobileLink`` (claim links in ``links``), ``TMMobile``, ``FlashSeats`` or ``Eticket``
    (the tickets go as PDFs through ``pos_ticket_files``), and ``transfer_source`` one of TEvo's
    platform codes (``TM``, ``AXS``…); or ``None`` if the POS cannot say, which sends the order
    to a person.
    Idempotency: read-only.
    Budget: 30 s.
    """


@hookspec
def pos_order_event(event: OrderEvent) -> None:
    """Optional. Told of every state change of an order (for a POS note, a chat message, a metric).

    Arguments: ``event``, with the ``order_id``, the new ``state``, the ``previous_state``, the
    ``reason`` and any ``details``.
    Returns: nothing. Every implementation is called (this is not ``firstresult``); the host logs
    and swallows their exceptions and overruns, so a notification never holds an order up. Still
    never raise, for any state: the contract suite sends each one.
    Idempotency: may be called twice for one transition after a crash; tolerate repeats.
    Budget: 5 s.
    """


@hookspec(firstresult=True)
def pos_health() -> PosHealth:
    """Optional (contract 2). Whether the POS can be used right now: credentials valid, POS reachable.

    Keep it cheap (one authenticated read, a file opened): ``/readyz``, the dashboard's Health panel
    and ``tevo-bridge check --online`` ask it, the host caches the answer for a few seconds.
    Arguments: none.
    Returns: ``PosHealth(ok=True)``, or ``PosHealth(ok=False, reason=...)`` with a short reason a
    seller can act on (never a secret). Raising counts as unhealthy, with the exception as the
    reason; no answer within the budget counts as unhealthy too. Left out: health is unknown.
    Idempotency: read-only.
    Budget: 5 s.
    """


@hookspec(firstresult=True)
def pos_startup() -> None:
    """Optional (contract 2). Open what the plugin keeps for the life of the process (a client, a pool).

    Called once per process by the host, after the plugin is built and before any other hook.
    Arguments: none.
    Returns: nothing. Raising (or overrunning) refuses the start (``PluginStartError``), as a raising
    ``__init__`` does.
    Idempotency: called once; ``pos_shutdown`` follows it when the host closes.
    Budget: 30 s.
    """


@hookspec(firstresult=True)
def pos_shutdown() -> None:
    """Optional (contract 2). Close what ``pos_startup`` opened; called once when the host closes.

    Arguments: none.
    Returns: nothing. The host logs and swallows an exception or an overrun: the process is stopping.
    Idempotency: called at most once per host.
    Budget: 10 s.
    """


@hookspec(firstresult=True)
def pos_void_invoice(order: Order, invoice_id: str, reason: str) -> None:
    """Optional (contract 2). Undo the sale of an order TEvo canceled after it was invoiced.

    Arguments: ``order`` (as given to ``pos_create_invoice``), the ``invoice_id`` that hook returned,
    and TEvo's ``reason`` for the cancel (for the POS's note).
    Returns: nothing, once the invoice is void and its tickets are back on sale (available to
    ``pos_check_inventory`` again).
    Raises: ``tevo_bridge.pos.errors.VoidRefused`` when the POS will not void this invoice (already
    paid out, tickets delivered by hand...): the order goes to a person with the POS's reason. Any
    other exception is a fault and the void is retried. Left out: every such cancel goes to a person.
    Idempotency: keyed by ``invoice_id``; voiding a void invoice returns normally and changes nothing.
    Budget: 30 s.
    """


@hookspec(firstresult=True)
def pos_list_stock() -> list[StockListing]:
    """Optional (contract 2). Every ticket group on sale now, so a seller can rehearse with their own stock.

    ``tevo-bridge sandbox inventory-from`` turns the answer into the TEvo sandbox's listings; the
    daemon itself never calls it.
    Arguments: none.
    Returns: a list of ``StockListing``, one per ticket group (those with nothing available too;
    the caller leaves them out).
    Idempotency: read-only.
    Budget: 60 s.
    """
