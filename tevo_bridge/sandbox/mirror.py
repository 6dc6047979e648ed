"""A POS inventory that mirrors the sandbox's listings: what a seller's POS would hold for them.

The sandbox plays TEvo, which only knows listings; the POS owns the stock.  For
end-to-end runs both must describe the same tickets, so this builds the POS rows
(with real ticket PDFs and claim links) from the sandbox's ``TicketGroupSpec``s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.sandbox.inventory import TicketGroupSpec
from tevo_bridge.testing.inventory import with_ticket_pdf

#: The POS's minimum is this share of TEvo's wholesale price: full-price orders pass,
#: the sandbox's underpriced orders (half price) do not.
MIN_PRICE_SHARE = Decimal("0.9")


def mirror_row(spec: TicketGroupSpec, pdf_dir: Path) -> InventoryRow:
    row = InventoryRow(
        remote_id=spec.remote_id, event=spec.event_name, venue=spec.venue, occurs_at=spec.occurs_at,
        section=spec.section, row=spec.row, seats=tuple(spec.seats), quantity=len(spec.seats),
        min_price=(spec.wholesale_price * MIN_PRICE_SHARE).quantize(Decimal("0.01")), format=spec.format,
    )
    if spec.format == "Eticket":
        return with_ticket_pdf(row, pdf_dir)
    if spec.format == "TM_mobile":
        links = tuple(f"https://am.ticketmaster.com/claim/{spec.remote_id}-{seat}" for seat in spec.seats)
        return replace(row, transfer_links=links, transfer_source="TM")
    return row


def mirror_inventory(specs: Iterable[TicketGroupSpec], pdf_dir: Path) -> list[InventoryRow]:
    return [mirror_row(spec, pdf_dir) for spec in specs]
