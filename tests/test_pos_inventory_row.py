"""InventoryRow: the answers a simple POS gives from one ticket-group row, and its CSV form."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from tevo_bridge.pos.inventory import CSV_COLUMNS, InventoryFileError, InventoryRow, read_inventory_csv
from tevo_bridge.pos.types import Item, MobileTransfer
from tevo_bridge.testing.inventory import with_ticket_pdf

ROW = InventoryRow(
    "91508",
    "Lakers at Warriors",
    "Chase Center",
    "2026-12-25T17:00:00Z",
    "112",
    "14",
    ("9", "10", "11", "12"),
    4,
    Decimal("400.00"),
    format="TM_mobile",
    transfer_links=("https://x.example/9", "https://x.example/10", "https://x.example/11", "https://x.example/12"),
    transfer_source="TM",
)


def _item(quantity: int, seats: tuple[str, ...] = ()) -> Item:
    return Item(402190, 812502, "91508", quantity, Decimal("415.0"), seats)


def test_a_row_survives_a_round_trip_through_csv(tmp_path: Path) -> None:
    row = with_ticket_pdf(replace(ROW, format="Eticket"), tmp_path)
    assert InventoryRow.from_csv(row.to_csv()) == row


def test_a_csv_row_with_only_id_and_quantity_is_an_eticket_group_at_any_price() -> None:
    row = InventoryRow.from_csv({"remote_id": "TG-1", "quantity": "4"})
    assert (row.format, row.min_price, row.seats) == ("Eticket", Decimal(0), ())


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"remote_id": "", "quantity": "1"}, "remote_id: empty"),
        ({"remote_id": "TG-1", "quantity": "-1"}, "TG-1: quantity -1 is negative"),
        ({"remote_id": "TG-1", "quantity": "1", "min_price": "cheap"}, "TG-1: min_price 'cheap' is not a number"),
        (
            {"remote_id": "TG-1", "quantity": "1", "eticket_pages": "5-2"},
            "TG-1: eticket_pages entry '5-2' is not seat:page",
        ),
    ],
)
def test_a_bad_csv_value_is_named_by_group_and_column(record: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InventoryRow.from_csv(record)


def test_claim_links_are_given_only_for_the_items_seats() -> None:
    transfer = ROW.mobile_transfer(_item(2, ("10", "11")))
    assert transfer == MobileTransfer("TMMobileLink", ("https://x.example/10", "https://x.example/11"), "TM")


def test_a_single_group_link_is_not_given_for_part_of_the_group() -> None:
    with pytest.raises(LookupError, match="cannot pick the links"):
        replace(ROW, transfer_links=("https://x.example/all",)).mobile_transfer(_item(2, ("9", "10")))


def test_a_single_group_link_is_given_for_the_whole_group() -> None:
    transfer = replace(ROW, transfer_links=("https://x.example/all",)).mobile_transfer(_item(4))
    assert transfer.links == ("https://x.example/all",)


@pytest.mark.parametrize(
    ("format", "links", "expected"),
    [
        ("TM_mobile", (), MobileTransfer("TMMobile", transfer_source="TM")),
        ("Flash_seats", (), MobileTransfer("FlashSeats", transfer_source="TM")),
        ("Eticket", (), MobileTransfer("Eticket")),
        ("Physical", (), None),
    ],
)
def test_the_transfer_follows_the_groups_format(
    format: str, links: tuple[str, ...], expected: MobileTransfer | None
) -> None:
    assert replace(ROW, format=format, transfer_links=links).mobile_transfer(_item(2, ("9", "10"))) == expected


def test_an_item_without_seats_for_part_of_a_group_is_ambiguous() -> None:
    with pytest.raises(LookupError, match="cannot tell which"):
        ROW.seats_of(_item(2))


def test_ticket_files_name_the_pages_of_the_items_seats(tmp_path: Path) -> None:
    row = with_ticket_pdf(replace(ROW, format="Eticket"), tmp_path)  # cover, then seats 9-12 on pages 2-5
    (file,) = row.ticket_files(_item(2, ("11", "12")), tmp_path)
    assert (dict(file.seat_pages), len(PdfReader(io.BytesIO(file.pdf)).pages)) == ({"11": 4, "12": 5}, 6)


def test_a_relative_pdf_path_is_found_next_to_the_store(tmp_path: Path) -> None:
    row = with_ticket_pdf(replace(ROW, format="Eticket"), tmp_path / "pdfs")
    relative = replace(row, eticket_pdf="pdfs/91508.pdf")
    assert relative.ticket_files(_item(1, ("9",)), tmp_path)[0].name == "91508.pdf"


def test_a_seat_missing_from_the_page_map_is_an_error(tmp_path: Path) -> None:
    row = with_ticket_pdf(replace(ROW, format="Eticket"), tmp_path)
    with pytest.raises(LookupError, match="no page for seats 14"):
        row.ticket_files(_item(1, ("14",)), tmp_path)


# -- read_inventory_csv: every bad line named, with its column ----------------------------------------


def _write_inventory(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_an_inventory_csv_is_read_with_its_pdfs_found_where_the_pos_reads_them(tmp_path: Path) -> None:
    (tmp_path / "tickets").mkdir()
    (tmp_path / "tickets" / "91508.pdf").write_bytes(b"%PDF-1.4")
    row = replace(ROW, eticket_pdf="tickets/91508.pdf", eticket_pages={"9": 1})
    path = _write_inventory(tmp_path / "inventory.csv", [row.to_csv()])
    assert read_inventory_csv(path, pdf_dir=tmp_path) == [row]


def test_every_bad_line_is_named_with_its_column_and_the_file_looked_for(tmp_path: Path) -> None:
    good = replace(ROW, remote_id="TG-OK").to_csv()
    missing = replace(ROW, eticket_pdf="tickets/gone.pdf", eticket_pages={"9": 1}).to_csv()
    folder = replace(ROW, remote_id="TG-DIR", eticket_pdf=str(tmp_path), eticket_pages={"9": 1}).to_csv()
    path = _write_inventory(tmp_path / "inventory.csv",
                            [good, missing, {**good, "remote_id": "TG-2", "quantity": "four"}, folder])
    with pytest.raises(InventoryFileError) as caught:
        read_inventory_csv(path, pdf_dir=tmp_path)
    assert str(caught.value) == "\n  ".join([
        f"{path}: 3 problem(s)",
        f"line 3 (91508), column eticket_pdf: tickets/gone.pdf does not exist (looked for {tmp_path}/tickets/gone.pdf)",
        "line 4: TG-2: quantity 'four' is not a whole number",
        f"line 5 (TG-DIR), column eticket_pdf: {tmp_path} is not a file (looked for {tmp_path})",
    ])


def test_without_a_pdf_folder_the_pdfs_are_not_looked_for(tmp_path: Path) -> None:
    row = replace(ROW, eticket_pdf="tickets/gone.pdf", eticket_pages={"9": 1})
    assert read_inventory_csv(_write_inventory(tmp_path / "inventory.csv", [row.to_csv()])) == [row]


def test_an_inventory_that_is_not_utf8_text_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "inventory.csv"
    path.write_bytes("remote_id,quantity\nTG-1,4,café\n".encode("latin-1"))
    with pytest.raises(InventoryFileError, match="inventory.csv: cannot be read as a UTF-8 CSV file"):
        read_inventory_csv(path)
