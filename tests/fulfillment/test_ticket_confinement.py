"""Issue 20, item 12: a ticket PDF is used only from the folders it belongs in, ``..`` and symlinks resolved."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fulfillment.conftest import ETICKET_ITEM, ETICKET_ORDER, TWO_PAGES
from tevo_bridge.fulfillment.pages import TicketFileProblem, select_pages
from tevo_bridge.fulfillment.precheck import undeliverable
from tevo_bridge.loopback.seed import seed_sqlite_mirror
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.pos.types import Item, TicketFile
from tevo_bridge.tevo.models import Order

SEATS = {"5": 1, "6": 2}


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """``tickets/`` (allowed) holding ``ok.pdf``, and ``private/secret.pdf`` beside it (not allowed)."""
    tickets, private = tmp_path / "tickets", tmp_path / "private"
    tickets.mkdir()
    private.mkdir()
    (tickets / "ok.pdf").write_bytes(TWO_PAGES)
    (private / "secret.pdf").write_bytes(TWO_PAGES)
    return tickets, private


def from_path(path: Path) -> TicketFile:
    return TicketFile(path.read_bytes(), SEATS, path.name, path=path)


def select(files: list[TicketFile], allowed: list[Path]):
    return select_pages(files, ["5", "6"], item_id=7, quantity=2, ticket_dirs=allowed)


def test_a_file_inside_an_allowed_folder_is_used(folders):
    tickets, _ = folders

    assert len(select([from_path(tickets / "ok.pdf")], [tickets]).pages) == 2


def test_a_dot_dot_path_out_of_the_folder_is_refused_naming_the_real_place_and_the_fix(folders):
    tickets, private = folders

    with pytest.raises(TicketFileProblem) as refused:
        select([from_path(tickets / ".." / "private" / "secret.pdf")], [tickets])

    message = str(refused.value)
    assert f"really {private / 'secret.pdf'}" in message and f"outside the folders ticket PDFs may come from " \
                                                             f"({tickets})" in message
    assert "Fix: move the PDF into one of them" in message and "[fulfillment] ticket_dirs" in message


def test_a_symlink_in_the_folder_pointing_out_of_it_is_refused(folders):
    tickets, private = folders
    os.symlink(private / "secret.pdf", tickets / "innocent.pdf")

    with pytest.raises(TicketFileProblem, match="really .*private/secret.pdf"):
        select([from_path(tickets / "innocent.pdf")], [tickets])


def test_a_symlinked_folder_escaping_is_refused_too(folders):
    tickets, private = folders
    os.symlink(private, tickets / "sub")

    with pytest.raises(TicketFileProblem, match="outside the folders"):
        select([from_path(tickets / "sub" / "secret.pdf")], [tickets])


def test_a_symlink_that_stays_inside_is_fine(folders):
    tickets, _ = folders
    os.symlink(tickets / "ok.pdf", tickets / "alias.pdf")

    assert len(select([from_path(tickets / "alias.pdf")], [tickets]).pages) == 2


def test_a_sibling_folder_sharing_the_prefix_is_not_inside(tmp_path):
    (tmp_path / "tickets").mkdir()
    (tmp_path / "tickets-old").mkdir()
    (tmp_path / "tickets-old" / "x.pdf").write_bytes(TWO_PAGES)

    with pytest.raises(TicketFileProblem, match="outside the folders"):
        select([from_path(tmp_path / "tickets-old" / "x.pdf")], [tmp_path / "tickets"])


def test_with_no_allowed_folder_a_file_from_disk_is_refused_but_bytes_from_an_api_are_not(folders):
    tickets, _ = folders

    with pytest.raises(TicketFileProblem, match=r"no folder is allowed .* set \[fulfillment\] ticket_dirs"):
        select([from_path(tickets / "ok.pdf")], [])
    assert len(select([TicketFile(TWO_PAGES, SEATS, "api.pdf")], []).pages) == 2


async def test_fulfilment_sends_an_escaping_file_to_review_and_uploads_nothing(fake, host, run, folders):
    tickets, private = folders
    host.files[ETICKET_ITEM] = [from_path(tickets / ".." / "private" / "secret.pdf")]

    state, reason = await run(ETICKET_ORDER, ticket_dirs=[tickets])

    assert state == "needs_review" and "outside the folders ticket PDFs may come from" in reason
    assert fake.calls_to("items.add_etickets") == [] and fake.calls_to("orders.deliver_etickets") == []


async def test_the_check_before_accepting_refuses_it_the_same_way(fake, host, settings, folders):
    tickets, _ = folders
    host.files[ETICKET_ITEM] = [from_path(tickets / ".." / "private" / "secret.pdf")]
    order = Order.model_validate(fake.order_json(ETICKET_ORDER))

    reason = await undeliverable(settings(ticket_dirs=[tickets]).fulfillment, host, order)

    assert reason is not None and reason.startswith(f"item {ETICKET_ITEM}: file 1 (secret.pdf) is read from")


def test_the_sqlite_pos_declares_its_database_folder_and_reports_where_it_read(tmp_path):
    from tevo_bridge.sandbox.inventory import demo_inventory

    seed_sqlite_mirror(tmp_path / "pos.sqlite3", demo_inventory()[:3], tmp_path / "tickets")
    with PluginHost.load("sqlite_pos", {"database": str(tmp_path / "pos.sqlite3")}) as host:
        assert host.ticket_dirs() == [tmp_path]


def test_a_pos_row_naming_a_file_up_and_out_is_refused_when_its_pages_are_chosen(tmp_path, folders):
    tickets, _ = folders
    row = InventoryRow("g1", "Show", "Hall", "2026-12-25T17:00:00Z", "A", "1", ("5", "6"), 2, Decimal("10"),
                       eticket_pdf="../private/secret.pdf", eticket_pages=SEATS)
    item = Item(1, 2, "g1", 2, Decimal("10"), ("5", "6"))

    files = row.ticket_files(item, tickets)

    assert files is not None and files[0].path == tickets / "../private/secret.pdf"
    with pytest.raises(TicketFileProblem, match="outside the folders"):
        select(list(files), [tickets])
