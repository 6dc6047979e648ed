"""Page selection: exactly the item's seat pages, in seat order, out of real PDFs (docs/tevo-api.md §4 steps 1-2)."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader, PdfWriter

from tests.fulfillment.conftest import FIVE_PAGES, PDFS, TWO_PAGES
from tests.fulfillment.fake_tevo import page_text
from tevo_bridge.fulfillment.pages import TicketFileProblem, normalise_seat, select_pages
from tevo_bridge.pos.types import TicketFile

MANIFEST = json.loads((PDFS / "manifest.json").read_text())
FIVE = TicketFile(FIVE_PAGES, {"105": 2, "106": 3, "107": 4}, name="hamilton.pdf")


def encrypted(pdf: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def problem(files, seats, quantity=None) -> str:
    with pytest.raises(TicketFileProblem) as caught:
        select_pages(files, seats, item_id=812431, quantity=len(seats) if quantity is None else quantity)
    return str(caught.value)


def test_five_page_pdf_yields_exactly_the_three_seat_pages_in_seat_order():
    selected = select_pages([FIVE], ["105", "106", "107"], item_id=812431, quantity=3)

    expected = [(p["seat"], p["barcode"]) for p in MANIFEST["tickets_5_pages_for_3_seats.pdf"]["pages"]
                if p["kind"] == "ticket"]
    texts = [page_text(page) for page in selected.pages]
    assert [len(PdfReader(io.BytesIO(page)).pages) for page in selected.pages] == [1, 1, 1]
    assert [(f"SEAT {seat}" in text and barcode in text) for (seat, barcode), text in zip(expected, texts, strict=True)] == [True] * 3
    assert not any("YOUR E-TICKETS" in text or "PARTNER OFFERS" in text for text in texts)


def test_pages_follow_the_items_seat_order_not_the_files():
    selected = select_pages([FIVE], ["107", "105", "106"], item_id=812431, quantity=3)

    assert ["SEAT 107" in page_text(selected.pages[0]), "SEAT 105" in page_text(selected.pages[1])] == [True, True]


def test_merged_file_holds_all_and_only_the_items_pages():
    merged = select_pages([FIVE], ["105", "106", "107"], item_id=812431, quantity=3).merged()

    pages = PdfReader(io.BytesIO(merged)).pages
    assert [next(line for line in p.extract_text().splitlines() if line.startswith("SEAT")) for p in pages] == [
        "SEAT 105", "SEAT 106", "SEAT 107"]


def test_seats_may_come_from_several_files():
    files = [TicketFile(TWO_PAGES, {"6": 2}, name="a.pdf"), TicketFile(TWO_PAGES, {"5": 1}, name="b.pdf")]

    selected = select_pages(files, ["5", "6"], item_id=812406, quantity=2)

    assert ["SEAT 5" in page_text(selected.pages[0]), "SEAT 6" in page_text(selected.pages[1])] == [True, True]


def test_seat_names_match_whatever_their_leading_zeros_or_type():
    assert (normalise_seat("05"), normalise_seat(5), normalise_seat(" 5 "), normalise_seat("a1")) == ("5", "5", "5", "A1")


def test_without_seats_from_tevo_every_named_page_is_taken_in_file_order():
    selected = select_pages([FIVE], [], item_id=812431, quantity=3)

    assert selected.seats == ("105", "106", "107")


def test_entries_for_other_buyers_seats_are_not_checked():
    files = [TicketFile(FIVE_PAGES, {"105": 2, "106": 3, "107": 4, "108": 9, "109": 4})]

    assert select_pages(files, ["105", "106"], item_id=812431, quantity=2).seats == ("105", "106")


def test_without_seats_from_tevo_pages_are_taken_in_page_order():
    pages = {str(seat): page for page, seat in enumerate(range(1, 12), start=1)}
    eleven = PdfWriter()
    for _ in range(11):
        eleven.add_blank_page(width=72, height=72)
    buffer = io.BytesIO()
    eleven.write(buffer)

    selected = select_pages([TicketFile(buffer.getvalue(), pages)], [], item_id=1, quantity=11)

    assert selected.seats == tuple(str(n) for n in range(1, 12))


def test_corrupt_pdf_names_the_item_and_the_file():
    message = problem([TicketFile(b"%PDF-1.4 this is not really a pdf", {"105": 1}, name="broken.pdf")], ["105"])

    assert message.startswith("item 812431: file 1 (broken.pdf) is not a readable PDF")


def test_truncated_pdf_is_refused():
    assert "is not a readable PDF" in problem([TicketFile(FIVE_PAGES[: len(FIVE_PAGES) // 2], FIVE.seat_pages)],
                                               ["105", "106", "107"])


def test_empty_file_is_refused():
    assert problem([TicketFile(b"", {"105": 1})], ["105"]) == "item 812431: file 1 is empty"


def test_encrypted_pdf_is_refused():
    message = problem([TicketFile(encrypted(FIVE_PAGES), FIVE.seat_pages, name="locked.pdf")], ["105", "106", "107"])

    assert message == "item 812431: file 1 (locked.pdf) is encrypted (password-protected)"


def test_missing_seat_is_named():
    message = problem([TicketFile(FIVE_PAGES, {"105": 2, "106": 3})], ["105", "106", "107"])

    assert message == "item 812431: no page for seat(s) 107 in the POS's ticket files"


def test_page_beyond_the_end_of_a_short_pdf_is_refused():
    message = problem([TicketFile(TWO_PAGES, {"105": 1, "106": 2, "107": 3}, name="short.pdf")], ["105", "106", "107"])

    assert message == "item 812431: seat 107 is on page 3 of file 1 (short.pdf), which has 2 page(s)"


def test_page_count_must_equal_the_quantity():
    assert problem([FIVE], ["105", "106", "107"], quantity=4) == "item 812431: 3 ticket page(s) for a quantity of 4"


def test_two_seats_on_one_page_are_refused():
    assert "share page 2" in problem([TicketFile(FIVE_PAGES, {"105": 2, "106": 2})], ["105", "106"])


def test_no_files_at_all_is_a_problem():
    assert problem([], ["105"]) == "item 812431: the POS returned no ticket files"
