"""Issue 21, item 2: a ticket PDF moved away is a problem for a person at once, like an unreadable one.

Before, the real sample POS let ``FileNotFoundError`` out of ``pos_ticket_files``; the pre-accept check
turned it into a retryable failure, so the order sat in ``checking`` for 8 attempts before review.
Only ``TicketsNotReady`` ("not yet") may wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fulfillment.conftest import ETICKET_ITEM, ETICKET_ORDER, TWO_PAGES
from tevo_bridge.fulfillment import make_fulfil
from tevo_bridge.fulfillment.precheck import undeliverable
from tevo_bridge.pipeline.processor import StepFailed
from tevo_bridge.pos.errors import PosError, TicketsNotReady
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.tevo.models import Order

REMOTE_ID = "88213"  # the fixture order's ticket group


@pytest.fixture
def sqlite_pos(tmp_path: Path) -> Iterator[tuple[PluginHost, Path]]:
    """The real sample SQLite POS holding the order's group, its PDF in ``tickets/`` beside the database."""
    from tevo_bridge_sqlite_pos import store

    pdf = tmp_path / "tickets" / f"{REMOTE_ID}.pdf"
    pdf.parent.mkdir()
    pdf.write_bytes(TWO_PAGES)
    row = InventoryRow(REMOTE_ID, "Show", "Hall", "2026-12-25T17:00:00Z", "A", "1", ("5", "6"), 2, Decimal("10"),
                       eticket_pdf=f"tickets/{REMOTE_ID}.pdf", eticket_pages={"5": 1, "6": 2})
    database = tmp_path / "pos.sqlite3"
    store.init_db(database)
    with store.connect(database) as conn:
        store.upsert_ticket_groups(conn, [row])
    with PluginHost.load("sqlite_pos", {"database": str(database)}) as host:
        yield host, pdf


async def test_the_check_before_accepting_names_the_moved_file_and_the_fix(fake, settings, sqlite_pos, tmp_path):
    host, pdf = sqlite_pos
    order = Order.model_validate(fake.order_json(ETICKET_ORDER))
    assert await undeliverable(settings().fulfillment, host, order) is None  # in place, it is deliverable

    pdf.rename(tmp_path / "moved.pdf")
    reason = await undeliverable(settings().fulfillment, host, order)  # a retryable StepFailed before

    assert reason == (f"item {ETICKET_ITEM}: ticket file {pdf} cannot be read (No such file or directory). "
                      "Fix: put the PDF back at that path, or correct the POS's row to where it is now.")


async def test_fulfilment_sends_it_to_review_at_once_and_uploads_nothing(fake, settings, store, sqlite_pos, tmp_path):
    host, pdf = sqlite_pos
    pdf.rename(tmp_path / "moved.pdf")

    async with fake.client() as tevo:
        fulfil = make_fulfil(settings(), tevo, host, store, download=fake.download)
        await store.ensure_order(ETICKET_ORDER, "test")
        state, reason = await fulfil(Order.model_validate(fake.order_json(ETICKET_ORDER)),
                                     await store.get_order(ETICKET_ORDER))

    assert state == "needs_review" and f"ticket file {pdf} cannot be read" in reason and "Fix:" in reason
    assert fake.calls_to("items.add_etickets") == [] and fake.calls_to("orders.deliver_etickets") == []


async def test_a_plugin_letting_a_bare_file_error_out_is_treated_the_same(fake, host, settings):
    missing = FileNotFoundError(2, "No such file or directory", "/srv/tickets/gone.pdf")
    host.files[ETICKET_ITEM] = PosError("pos_ticket_files", missing)
    order = Order.model_validate(fake.order_json(ETICKET_ORDER))

    reason = await undeliverable(settings().fulfillment, host, order)

    assert reason is not None and reason.startswith(
        f"item {ETICKET_ITEM}: ticket file /srv/tickets/gone.pdf cannot be read (No such file or directory). Fix:")


async def test_a_connection_error_from_a_pos_server_is_still_retried_not_sent_to_review(fake, host, settings):
    host.files[ETICKET_ITEM] = PosError("pos_ticket_files", ConnectionResetError(104, "Connection reset by peer"))
    order = Order.model_validate(fake.order_json(ETICKET_ORDER))

    with pytest.raises(StepFailed, match="ConnectionResetError"):  # an OSError, but a transient one
        await undeliverable(settings().fulfillment, host, order)


async def test_not_yet_still_waits(fake, host, settings):
    host.files[ETICKET_ITEM] = PosError("pos_ticket_files", TicketsNotReady("uploaded tonight"))
    order = Order.model_validate(fake.order_json(ETICKET_ORDER))

    assert await undeliverable(settings().fulfillment, host, order) is None
