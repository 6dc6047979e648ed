"""Real e-ticket PDFs for tests and the demo: one page per seat, optionally a cover and an advert.

Sellers' PDFs often carry pages that are not tickets; TEvo wants only the ticket pages kept
(docs/tevo-api.md §4), so the generator can add both kinds of noise. Output is deterministic
(reportlab's invariant mode, barcodes derived from the seat), so a test can compare bytes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

__all__ = ["barcode_for", "make_ticket_pdf"]

_W, _H = letter


def barcode_for(event: str, section: str, row: str, seat: str) -> str:
    """A 16-digit barcode number that is the same every run for the same seat."""
    digest = hashlib.sha256(f"{event}|{section}|{row}|{seat}".encode()).hexdigest()
    return str(int(digest, 16))[:16]


def _header(c: Canvas, title: str) -> None:
    c.rect(0, _H - 72, _W, 72, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    c.setFont("Helvetica-Bold", 18)
    c.drawString(40, _H - 45, "TEVO-BRIDGE SAMPLE TICKETS")
    c.drawRightString(_W - 40, _H - 45, title)
    c.setFillColorRGB(0, 0, 0)


def _event(c: Canvas, event: str, venue: str, occurs_at: str) -> None:
    c.setFont("Helvetica-Bold", 22)
    c.drawString(40, _H - 120, event)
    c.setFont("Helvetica", 13)
    c.drawString(40, _H - 144, venue)
    c.drawString(40, _H - 162, occurs_at)


def make_ticket_pdf(
    event: str,
    venue: str,
    occurs_at: str,
    section: str,
    row: str,
    seats: Sequence[str],
    cover: bool = True,
    advert: bool = True,
) -> tuple[bytes, dict[str, int]]:
    """Draw the tickets; return the PDF and which 1-based page holds each seat.

    Each ticket page says ``SECTION``, ``ROW`` and ``SEAT <n>`` once, with a Code 128 barcode and
    its number. The cover and advert pages never say ``SEAT``, so page text tells tickets apart.
    """
    if not seats:
        raise ValueError("a ticket PDF needs at least one seat")
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=letter, invariant=1, pageCompression=1)
    c.setTitle(f"E-tickets - {event}")
    pages: dict[str, int] = {}
    page = 0
    if cover:
        page += 1
        _header(c, "YOUR E-TICKETS")
        _event(c, event, venue, occurs_at)
        c.setFont("Helvetica-Bold", 14)
        c.drawString(40, _H - 210, f"{len(seats)} tickets: Section {section}, Row {row}")
        c.setFont("Helvetica", 12)
        c.drawString(40, _H - 235, "Every guest needs their own page: each one carries a unique barcode.")
        c.showPage()
    for number, seat in enumerate(seats, 1):
        page += 1
        pages[seat] = page
        _header(c, "E-TICKET")
        _event(c, event, venue, occurs_at)
        y = _H - 260
        for i, text in enumerate((f"SECTION {section}", f"ROW {row}", f"SEAT {seat}")):
            c.rect(40 + i * 180, y, 170, 50, stroke=1, fill=0)
            c.setFont("Helvetica-Bold", 16)
            c.drawCentredString(125 + i * 180, y + 18, text)
        code = barcode_for(event, section, row, seat)
        barcode = Code128(code, barHeight=70, barWidth=1.6)
        barcode.drawOn(c, (_W - barcode.width) / 2, y - 130)
        c.setFont("Courier-Bold", 14)
        c.drawCentredString(_W / 2, y - 150, code)
        c.setFont("Helvetica", 11)
        c.drawRightString(_W - 40, y - 190, f"Ticket {number} of {len(seats)}")
        c.showPage()
    if advert:
        _header(c, "PARTNER OFFERS")
        c.setFont("Helvetica-Bold", 28)
        c.drawString(40, _H - 140, "MAKE A NIGHT OF IT")
        c.setFont("Helvetica", 13)
        c.drawString(40, _H - 180, "Dinner before the show: save 15% with code STAGE15.")
        c.showPage()
    c.save()
    return buffer.getvalue(), pages
