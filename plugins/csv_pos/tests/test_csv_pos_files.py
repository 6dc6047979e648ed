"""What the CSV POS does beyond the contract: several processes, atomic files, crash repair."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tevo_bridge_csv_pos import CsvPos
from tevo_bridge_csv_pos.files import HOLDS, INVOICES

from tevo_bridge.pos.inventory import CSV_COLUMNS, InventoryFileError, InventoryRow
from tevo_bridge.pos.types import Buyer, Hold, Item, Order

GROUP = InventoryRow(
    "TG-40",
    "Wicked",
    "Gershwin Theatre",
    "2026-12-05T14:00:00Z",
    "Orch",
    "C",
    tuple(str(n) for n in range(1, 41)),
    40,
    Decimal("100"),
    format="Physical",
)
TEVO = Buyer("Office", 6, "Ticket Evolution")

# Each process tries 20 one-ticket holds of a 40-ticket group: 80 attempts for 40 tickets.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tevo_bridge.pos.types import Hold
    from tevo_bridge_csv_pos import CsvPos

    directory, n = Path(sys.argv[1]), sys.argv[2]
    pos = CsvPos(CsvPos.Config(directory=directory))
    (directory / f"ready-{n}").touch()
    while not (directory / "go").exists():
        time.sleep(0.005)
    print(sum(pos.pos_hold(hold=Hold(f"G-{n}-{i}", "TG-40", 1)).held for i in range(20)))
    """
)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    with (tmp_path / "inventory.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerow(GROUP.to_csv())
    return tmp_path


@pytest.fixture
def pos(directory: Path) -> CsvPos:
    return CsvPos(CsvPos.Config(directory=directory))


def _available(pos: CsvPos) -> int:
    return pos.pos_check_inventory(item=Item(None, 1, "TG-40", 1, Decimal(100))).available


def _order(order_id: int, quantity: int, global_id: str | None = None) -> Order:
    item = Item(order_id, 1, "TG-40", quantity, Decimal(100), global_id=global_id)
    return Order(order_id, TEVO, (item,), Decimal(100) * quantity)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_four_processes_racing_for_forty_tickets_hold_exactly_forty(directory: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", HOLDER, str(directory), str(n)], stdout=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    deadline = time.monotonic() + 60
    while not all((directory / f"ready-{n}").exists() for n in range(4)) and time.monotonic() < deadline:
        time.sleep(0.01)
    (directory / "go").touch()
    held = [int(p.communicate(timeout=60)[0]) for p in procs]
    rows = _rows(directory / HOLDS)
    assert (sum(held), len(rows), {r["state"] for r in rows}) == (40, 40, {"held"})


def test_the_files_open_as_plain_csv_with_headers(pos: CsvPos, directory: Path) -> None:
    pos.pos_hold(hold=Hold("G-1", "TG-40", 2))
    pos.pos_create_invoice(order=_order(402117, 3), customer=None)
    assert (_rows(directory / HOLDS)[0]["quantity"], _rows(directory / INVOICES)[0]["tevo_order_id"]) == ("2", "402117")


def test_a_write_that_dies_before_the_rename_leaves_the_old_file_whole(
    pos: CsvPos, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pos.pos_hold(hold=Hold("G-1", "TG-40", 2))
    before = (directory / HOLDS).read_bytes()

    def crash(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        pos.pos_hold(hold=Hold("G-2", "TG-40", 2))
    monkeypatch.undo()
    leftovers = [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]
    assert ((directory / HOLDS).read_bytes(), leftovers) == (before, [])


def test_an_invoice_written_before_a_crash_still_counts_its_hold_as_sold(pos: CsvPos, directory: Path) -> None:
    """invoices.csv is written first; a crash before holds.csv leaves the hold "held" on disk."""
    pos.pos_hold(hold=Hold("G-OI", "TG-40", 2))
    holds_before = (directory / HOLDS).read_bytes()
    pos.pos_create_invoice(order=_order(402190, 2, global_id="G-OI"), customer=None)
    (directory / HOLDS).write_bytes(holds_before)  # as if the process died between the two writes
    released = pos.pos_release_hold(hold=Hold("G-OI", "TG-40", 2))
    assert (_available(pos), released) == (38, False)


def test_a_hold_past_its_expiry_no_longer_counts(pos: CsvPos) -> None:
    pos.pos_hold(hold=Hold("G-old", "TG-40", 5, expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert _available(pos) == 40


def test_a_hold_before_its_expiry_counts(pos: CsvPos) -> None:
    pos.pos_hold(hold=Hold("G-new", "TG-40", 5, expires_at=datetime.now(UTC) + timedelta(minutes=15)))
    assert _available(pos) == 35


def test_the_plugin_creates_the_files_it_writes(directory: Path) -> None:
    CsvPos(CsvPos.Config(directory=directory))
    assert sorted(p.name for p in directory.glob("*.csv")) == [
        "customers.csv",
        "holds.csv",
        "inventory.csv",
        "invoices.csv",
        "voids.csv",
    ]


def test_the_plugin_refuses_a_folder_without_inventory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="inventory.csv does not exist"):
        CsvPos(CsvPos.Config(directory=tmp_path))


def test_the_pos_does_not_start_with_a_ticket_pdf_missing_from_its_folder(directory: Path) -> None:
    eticket = replace(GROUP, remote_id="TG-41", format="Eticket", eticket_pdf="tickets/TG-41.pdf", eticket_pages={"1": 1})
    with (directory / "inventory.csv").open("a", newline="", encoding="utf-8") as f:
        csv.DictWriter(f, fieldnames=CSV_COLUMNS).writerow(eticket.to_csv())

    with pytest.raises(InventoryFileError) as caught:
        CsvPos(CsvPos.Config(directory=directory))

    assert str(caught.value).endswith(f"line 3 (TG-41), column eticket_pdf: tickets/TG-41.pdf does not exist "
                                      f"(looked for {directory}/tickets/TG-41.pdf)")
    (directory / "tickets").mkdir()
    (directory / "tickets" / "TG-41.pdf").write_bytes(b"%PDF-1.4")
    assert CsvPos(CsvPos.Config(directory=directory)).pos_check_inventory(
        item=Item(None, 1, "TG-41", 1, Decimal(100))).available == 40


def test_quantity_is_the_size_before_sales_as_the_readme_says(pos: CsvPos, directory: Path) -> None:
    """README "How quantity works": sales in invoices.csv stay subtracted from whatever quantity says."""

    def set_quantity(quantity: int) -> None:
        with (directory / "inventory.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerow(replace(GROUP, quantity=quantity).to_csv())

    pos.pos_create_invoice(order=_order(1, 1), customer=None)
    assert _available(pos) == 39
    set_quantity(39)  # "what I still have": the sale is subtracted a second time
    assert _available(pos) == 38
    set_quantity(0)
    assert _available(pos) == 0  # never negative


def test_a_ticket_pdf_moved_after_the_start_is_named_as_unreadable_not_raised_raw(directory: Path) -> None:
    from tevo_bridge.pos.errors import TicketFileUnreadable

    eticket = replace(GROUP, remote_id="TG-41", format="Eticket", eticket_pdf="tickets/TG-41.pdf",
                      eticket_pages={"1": 1, "2": 2})
    with (directory / "inventory.csv").open("a", newline="", encoding="utf-8") as f:
        csv.DictWriter(f, fieldnames=CSV_COLUMNS).writerow(eticket.to_csv())
    (directory / "tickets").mkdir()
    (directory / "tickets" / "TG-41.pdf").write_bytes(b"%PDF-1.4")
    pos = CsvPos(CsvPos.Config(directory=directory))
    item = Item(9, 1, "TG-41", 2, Decimal(100), ("1", "2"))
    order = Order(9, TEVO, (item,), Decimal(200))
    assert pos.pos_ticket_files(order=order, item=item)

    (directory / "tickets" / "TG-41.pdf").rename(directory / "elsewhere.pdf")
    with pytest.raises(TicketFileUnreadable) as caught:  # a bare FileNotFoundError before: retried for minutes
        pos.pos_ticket_files(order=order, item=item)

    assert caught.value.path == directory / "tickets" / "TG-41.pdf" and "Fix:" in str(caught.value)


def test_a_batch_of_holds_rewrites_the_holds_file_once(pos: CsvPos, directory: Path, monkeypatch) -> None:
    writes: list[str] = []
    write = pos.folder.write
    monkeypatch.setattr(pos.folder, "write", lambda name, rows: (writes.append(name), write(name, rows))[1])
    answers = pos.pos_hold_many(holds=[Hold(f"G-{i}", "TG-40", 15) for i in range(3)])
    assert [a.held for a in answers] == [True, True, False]  # 40 on hand: the third finds 10 left
    assert (writes, len(_rows(directory / HOLDS))) == ([HOLDS], 2)
    again = pos.pos_hold_many(holds=[Hold("G-0", "TG-40", 15), Hold("G-9", "TG-40", 50)])
    assert [a.held for a in again] == [True, False] and writes == [HOLDS]  # a replay and a refusal write nothing
