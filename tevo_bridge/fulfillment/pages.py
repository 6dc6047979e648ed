"""Choosing exactly an item's ticket pages out of the PDFs a POS hands over (docs/tevo-api.md §4, steps 1–2).

Real ticket PDFs carry covers, adverts and other buyers' seats, so nothing here
assumes "one file, one ticket per page, in order": the plugin names the page of
each seat, and only those pages ever leave this module.  Pure pypdf, no I/O, so
every check runs before any TEvo call: a bad file never half-delivers an item.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tevo_bridge.fulfillment.confine import outside_ticket_dirs
from tevo_bridge.pos.types import TicketFile

if TYPE_CHECKING:  # pypdf (with cryptography and Pillow behind it) is ~25 MiB: loaded when a PDF is touched
    from pypdf import PdfReader, PdfWriter

__all__ = ["SelectedPages", "TicketFileProblem", "normalise_seat", "select_pages"]


class TicketFileProblem(Exception):
    """The POS's files cannot produce this item's tickets; a person has to fix them (never retried)."""

    def __init__(self, item_id: int, problem: str) -> None:
        super().__init__(f"item {item_id}: {problem}")
        self.item_id = item_id
        self.problem = problem


@dataclass(frozen=True)
class SelectedPages:
    """One single-page PDF per ticket, in the item's seat order."""

    seats: tuple[str, ...]
    pages: tuple[bytes, ...]

    def merged(self) -> bytes:
        """All and only the item's pages in one file: what deliver_etickets requires (§4, "Pages and quantity")."""
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter()
        for page_pdf in self.pages:
            writer.append(PdfReader(io.BytesIO(page_pdf)))
        return _to_bytes(writer)


def normalise_seat(seat: object) -> str:
    """TEvo sends seats as strings or ints (fixtures README), and a POS may write "05" for seat 5."""
    text = str(seat).strip()
    if text.isdigit():
        return text.lstrip("0") or "0"
    return text.upper()


def select_pages(files: Sequence[TicketFile], seats: Sequence[str], *, item_id: int, quantity: int,
                 ticket_dirs: Sequence[Path] | None = None) -> SelectedPages:
    """The item's pages, one PDF each, in the order of ``seats``.

    ``seats`` empty means TEvo did not say which seats the item holds: then
    every seat the files name is taken, in file and page order, and the count
    check below still guards the quantity.  With ``ticket_dirs``, a file read
    from a path must lie inside one of them (``confine``).
    """
    if not files:
        raise TicketFileProblem(item_id, "the POS returned no ticket files")
    if ticket_dirs is not None:
        _confined(files, ticket_dirs, item_id)
    readers = [_open(f, n, item_id) for n, f in enumerate(files, 1)]
    named = _named_pages(files)

    wanted = [normalise_seat(s) for s in seats] or list(named)
    if len(set(wanted)) != len(wanted):
        raise TicketFileProblem(item_id, f"TEvo lists a seat twice: {', '.join(wanted)}")
    missing = [s for s in wanted if s not in named]
    if missing:
        raise TicketFileProblem(item_id, f"no page for seat(s) {', '.join(missing)} in the POS's ticket files")
    if len(wanted) != quantity:
        raise TicketFileProblem(item_id, f"{len(wanted)} ticket page(s) for a quantity of {quantity}")

    # Only the item's own seats are checked: entries for other buyers' seats are never used.
    owner: dict[tuple[int, int], str] = {}
    pages: list[bytes] = []
    for seat in wanted:
        places = named[seat]
        if len(places) > 1:
            raise TicketFileProblem(item_id, f"seat {seat} is named twice in the POS's ticket files")
        file_index, page = places[0]
        label = _label(files[file_index], file_index + 1)
        page_count = len(readers[file_index].pages)
        if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= page_count:
            raise TicketFileProblem(item_id, f"seat {seat} is on page {page!r} of {label}, which has "
                                             f"{page_count} page(s)")
        if (file_index, page) in owner:
            # One ticket per page: TEvo's quantity rule counts pages (§4).
            raise TicketFileProblem(item_id, f"seats {owner[(file_index, page)]} and {seat} share page {page} "
                                             f"of {label}; each ticket needs its own page")
        owner[(file_index, page)] = seat
        pages.append(_single_page(readers[file_index], page, label, item_id))
    return SelectedPages(seats=tuple(wanted), pages=tuple(pages))


def _confined(files: Sequence[TicketFile], ticket_dirs: Sequence[Path], item_id: int) -> None:
    for number, ticket_file in enumerate(files, 1):
        problem = outside_ticket_dirs(ticket_file, ticket_dirs)
        if problem:
            raise TicketFileProblem(item_id, f"{_label(ticket_file, number)} {problem}")


def _open(ticket_file: TicketFile, number: int, item_id: int) -> PdfReader:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    label = _label(ticket_file, number)
    if not ticket_file.pdf:
        raise TicketFileProblem(item_id, f"{label} is empty")
    try:
        reader = PdfReader(io.BytesIO(ticket_file.pdf))
        if reader.is_encrypted:
            # TEvo has to open the file to split it; a password-protected ticket is useless to the buyer.
            raise TicketFileProblem(item_id, f"{label} is encrypted (password-protected)")
        page_count = len(reader.pages)
    except TicketFileProblem:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise TicketFileProblem(item_id, f"{label} is not a readable PDF ({type(exc).__name__}: {exc})") from None
    if page_count == 0:
        raise TicketFileProblem(item_id, f"{label} has no pages")
    return reader


def _named_pages(files: Sequence[TicketFile]) -> dict[str, list[tuple[int, int]]]:
    """seat → every (file index, 1-based page) naming it, in file then page order."""
    named: dict[str, list[tuple[int, int]]] = {}
    for index, ticket_file in enumerate(files):
        entries = sorted(ticket_file.seat_pages.items(),
                         key=lambda kv: (kv[1] if isinstance(kv[1], int) else 1 << 30, str(kv[0])))
        for raw_seat, page in entries:
            named.setdefault(normalise_seat(raw_seat), []).append((index, page))
    return named


def _single_page(reader: PdfReader, page_number: int, label: str, item_id: int) -> bytes:
    from pypdf import PdfWriter
    from pypdf.errors import PyPdfError

    try:
        writer = PdfWriter()
        writer.add_page(reader.pages[page_number - 1])
        return _to_bytes(writer)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise TicketFileProblem(
            item_id, f"page {page_number} of {label} cannot be copied ({type(exc).__name__}: {exc})"
        ) from None


def _to_bytes(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _label(ticket_file: TicketFile, number: int) -> str:
    return f"file {number} ({ticket_file.name})" if ticket_file.name else f"file {number}"
