"""make_ticket_pdf draws real PDFs: one page per seat, which page-selection code can trust."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from tevo_bridge.testing.ticket_pdfs import barcode_for, make_ticket_pdf

ARGS = ("Hamilton", "Richard Rodgers Theatre", "2026-12-19T20:00:00Z", "Orchestra", "K", ["105", "106", "107"])


def _texts(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def test_each_seat_is_on_the_page_the_map_names() -> None:
    pdf, pages = make_ticket_pdf(*ARGS)
    texts = _texts(pdf)
    assert {seat: re.findall(r"SEAT (\S+)", texts[page - 1]) for seat, page in pages.items()} == {
        "105": ["105"],
        "106": ["106"],
        "107": ["107"],
    }


def test_cover_and_advert_pages_name_no_seat() -> None:
    pdf, _ = make_ticket_pdf(*ARGS)
    texts = _texts(pdf)
    assert (len(texts), "SEAT" in texts[0], "SEAT" in texts[-1]) == (5, False, False)


def test_without_cover_and_advert_the_pages_are_the_seats() -> None:
    pdf, pages = make_ticket_pdf(*ARGS, cover=False, advert=False)
    assert (len(_texts(pdf)), pages) == (3, {"105": 1, "106": 2, "107": 3})


def test_each_ticket_page_carries_its_barcode_number() -> None:
    pdf, pages = make_ticket_pdf(*ARGS)
    assert barcode_for("Hamilton", "Orchestra", "K", "106") in _texts(pdf)[pages["106"] - 1]


def test_the_same_tickets_draw_the_same_bytes() -> None:
    assert make_ticket_pdf(*ARGS)[0] == make_ticket_pdf(*ARGS)[0]
