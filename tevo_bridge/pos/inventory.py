"""A ticket group as a simple POS stores it, and the answers that follow from the row alone.

The sample plugins, the CSV import and the test kit share this shape, so a plugin that keeps its
stock in rows like these gets price decisions, e-ticket files and mobile transfers from the row's
methods instead of writing them again. A POS with its own model can ignore this module.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tevo_bridge.pos.errors import TicketFileUnreadable
from tevo_bridge.pos.types import Item, MobileTransfer, PriceDecision, StockListing, TicketFile

__all__ = ["CSV_COLUMNS", "InventoryFileError", "InventoryRow", "read_inventory_csv", "timestamp"]

#: Columns of an inventory CSV (``inventory.csv`` of the CSV POS, the SQLite POS's import).
#: ``seats`` and ``transfer_links`` are space-separated; ``eticket_pages`` is ``seat:page`` pairs.
CSV_COLUMNS = (
    "remote_id",
    "event",
    "venue",
    "occurs_at",
    "section",
    "row",
    "seats",
    "quantity",
    "min_price",
    "format",
    "eticket_pdf",
    "eticket_pages",
    "transfer_links",
    "transfer_source",
)


def timestamp(moment: datetime | None = None) -> str:
    """A time as a simple store keeps it: UTC and fixed width, so times compare correctly as text."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# TEvo inventory formats (the Inventory API's ``format`` enum) that are transferred, not shipped.
_TRANSFER_FORMATS = {"TM_mobile": "TM", "Flash_seats": "FS"}


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """One ticket group. ``quantity`` is on hand (sales and holds are counted elsewhere).

    ``eticket_pdf`` is a path (relative paths are resolved against the store's folder) and
    ``eticket_pages`` maps each seat to its 1-based page there. ``transfer_links`` are claim
    URLs: one per seat in ``seats`` order, or a single one for the whole group.
    """

    remote_id: str
    event: str
    venue: str
    occurs_at: str
    section: str
    row: str
    seats: tuple[str, ...]
    quantity: int
    min_price: Decimal
    format: str = "Eticket"
    eticket_pdf: str | None = None
    eticket_pages: Mapping[str, int] | None = field(default=None)
    transfer_links: tuple[str, ...] = ()
    transfer_source: str | None = None

    # -- answers a POS gives from the row ------------------------------------------------------

    def price_decision(self, price: Decimal) -> PriceDecision:
        """Sell at ``min_price`` per ticket or more."""
        if price >= self.min_price:
            return PriceDecision(True)
        return PriceDecision(False, f"price {price} is below the minimum {self.min_price} for {self.remote_id}")

    def seats_of(self, item: Item) -> tuple[str, ...]:
        """The seats an item takes: TEvo's list, or the whole group when the item takes it all."""
        if item.seats:
            return item.seats
        if item.quantity == len(self.seats):
            return self.seats
        raise LookupError(
            f"item {item.item_id} names no seats and takes {item.quantity} of the {len(self.seats)} seats "
            f"of {self.remote_id}: cannot tell which"
        )

    def pdf_path(self, base_dir: Path) -> Path | None:
        """Where the group's PDF is read from (a relative ``eticket_pdf`` is under ``base_dir``), if it has one."""
        if not self.eticket_pdf:
            return None
        path = Path(self.eticket_pdf)
        return path if path.is_absolute() else base_dir / path

    def ticket_files(self, item: Item, base_dir: Path) -> list[TicketFile] | None:
        """The group's PDF with the item's seats named, or ``None`` when the group has no PDF.

        Raises ``TicketFileUnreadable`` when the row names a PDF that cannot be read."""
        path = self.pdf_path(base_dir)
        if path is None or not self.eticket_pages:
            return None
        seats = self.seats_of(item)
        missing = [seat for seat in seats if seat not in self.eticket_pages]
        if missing:
            raise LookupError(f"{path.name} has no page for seats {', '.join(missing)} of {self.remote_id}")
        try:
            pdf = path.read_bytes()
        except OSError as exc:  # moved or deleted since the import: waiting will not bring it back
            raise TicketFileUnreadable(path, exc.strerror or type(exc).__name__) from None
        return [TicketFile(pdf, {seat: self.eticket_pages[seat] for seat in seats}, path.name, path=path)]

    def mobile_transfer(self, item: Item) -> MobileTransfer | None:
        """How the item is transferred, from the group's format; ``None`` for physical tickets."""
        if self.format == "Eticket":
            return MobileTransfer("Eticket")
        source = self.transfer_source or _TRANSFER_FORMATS.get(self.format)
        if self.format == "Flash_seats":
            return MobileTransfer("FlashSeats", transfer_source=source)
        if self.format != "TM_mobile":
            return None
        if not self.transfer_links:
            return MobileTransfer("TMMobile", transfer_source=source)
        seats = self.seats_of(item)
        if len(self.transfer_links) == len(self.seats):
            links = tuple(self.transfer_links[self.seats.index(seat)] for seat in seats)
        elif len(self.transfer_links) == 1 and set(seats) == set(self.seats):
            links = self.transfer_links
        else:
            # Handing over a link that claims more seats than were sold gives tickets away.
            raise LookupError(
                f"{self.remote_id} has {len(self.transfer_links)} claim links for {len(self.seats)} seats: "
                f"cannot pick the links of seats {', '.join(seats)}"
            )
        return MobileTransfer("TMMobileLink", links, source)

    def stock_listing(self, available: int) -> StockListing:
        """The row as ``pos_list_stock`` reports it, with ``available`` of its tickets still for sale."""
        return StockListing(
            remote_id=self.remote_id, event_name=self.event, venue=self.venue, occurs_at=self.occurs_at,
            section=self.section, row=self.row, seats=self.seats, available=available, price=self.min_price,
            format=self.format,
        )

    # -- CSV -----------------------------------------------------------------------------------

    def to_csv(self) -> dict[str, str]:
        pages = self.eticket_pages or {}
        return {
            "remote_id": self.remote_id,
            "event": self.event,
            "venue": self.venue,
            "occurs_at": self.occurs_at,
            "section": self.section,
            "row": self.row,
            "seats": " ".join(self.seats),
            "quantity": str(self.quantity),
            "min_price": str(self.min_price),
            "format": self.format,
            "eticket_pdf": self.eticket_pdf or "",
            "eticket_pages": " ".join(f"{seat}:{page}" for seat, page in pages.items()),
            "transfer_links": " ".join(self.transfer_links),
            "transfer_source": self.transfer_source or "",
        }

    @classmethod
    def from_csv(cls, record: Mapping[str, str | None]) -> InventoryRow:
        """Parse one CSV record; ``ValueError`` names the column a seller got wrong."""

        def text(column: str) -> str:
            return (record.get(column) or "").strip()

        remote_id = text("remote_id")
        if not remote_id:
            raise ValueError("remote_id: empty")
        try:
            quantity = int(text("quantity"))
        except ValueError:
            raise ValueError(f"{remote_id}: quantity {text('quantity')!r} is not a whole number") from None
        if quantity < 0:
            raise ValueError(f"{remote_id}: quantity {quantity} is negative")
        try:
            min_price = Decimal(text("min_price") or "0")
        except InvalidOperation:
            raise ValueError(f"{remote_id}: min_price {text('min_price')!r} is not a number") from None
        pages: dict[str, int] = {}
        for pair in text("eticket_pages").split():
            seat, sep, page = pair.rpartition(":")
            if not sep or not page.isdigit():
                raise ValueError(f"{remote_id}: eticket_pages entry {pair!r} is not seat:page")
            pages[seat] = int(page)
        return cls(
            remote_id=remote_id,
            event=text("event"),
            venue=text("venue"),
            occurs_at=text("occurs_at"),
            section=text("section"),
            row=text("row"),
            seats=tuple(text("seats").split()),
            quantity=quantity,
            min_price=min_price,
            format=text("format") or "Eticket",
            eticket_pdf=text("eticket_pdf") or None,
            eticket_pages=pages or None,
            transfer_links=tuple(text("transfer_links").split()),
            transfer_source=text("transfer_source") or None,
        )


class InventoryFileError(ValueError):
    """An inventory CSV a seller must fix: the message names the file, then each bad line and its column."""


def read_inventory_csv(path: Path, pdf_dir: Path | None = None) -> list[InventoryRow]:
    """Every row of an inventory CSV, or ``InventoryFileError`` naming every bad line, so a caller that
    writes only after reading changes nothing when the file is wrong.

    With ``pdf_dir``, the folder the POS reads a relative ``eticket_pdf`` from, each PDF a row names
    must be there: a seller hears of a missing ticket file now, not after TEvo's order for it was
    accepted.  Lines are counted as in a text editor (the header is line 1).
    """
    rows: list[InventoryRow] = []
    problems: list[str] = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            for record in reader:
                try:
                    row = InventoryRow.from_csv(record)
                except ValueError as exc:
                    problems.append(f"line {reader.line_num}: {exc}")
                    continue
                pdf = row.pdf_path(pdf_dir) if pdf_dir is not None else None
                if pdf is not None and not pdf.is_file():
                    problems.append(f"line {reader.line_num} ({row.remote_id}), column eticket_pdf: {row.eticket_pdf} "
                                    f"{'is not a file' if pdf.exists() else 'does not exist'} (looked for {pdf})")
                rows.append(row)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InventoryFileError(f"{path}: cannot be read as a UTF-8 CSV file ({exc})") from None
    if problems:
        raise InventoryFileError("\n  ".join([f"{path}: {len(problems)} problem(s)", *problems]))
    return rows
