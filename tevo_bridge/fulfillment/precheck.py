"""The pipeline's last look before accepting: can this daemon deliver the order it is about to accept?"""

from __future__ import annotations

from tevo_bridge.config import FulfillmentSettings
from tevo_bridge.fulfillment.capability import missing_settings
from tevo_bridge.fulfillment.confine import allowed_ticket_dirs
from tevo_bridge.fulfillment.context import PosFacade
from tevo_bridge.fulfillment.etickets import keep_chosen_pages, ticket_files_for
from tevo_bridge.fulfillment.pages import TicketFileProblem, select_pages
from tevo_bridge.fulfillment.pdf_work import off_loop
from tevo_bridge.fulfillment.runner import eticket_items, live_shipments
from tevo_bridge.tevo.models import Order

__all__ = ["undeliverable"]


async def undeliverable(settings: FulfillmentSettings, pos: PosFacade, order: Order) -> str | None:
    """Why this daemon cannot deliver ``order``, known before accepting it; None when it can, or will.

    Settings for each delivery type the order's shipments use must be present; for each e-ticket
    item the POS already has files for, they must pass the very check fulfilment makes before
    uploading. An item whose files come later (``TicketsNotReady``, or TEvo says not in hand)
    does not stop the order: it is accepted and waits in ``awaiting_tickets``.
    """
    missing = missing_settings(settings)
    for shipment in live_shipments(order):
        if shipment.kind in missing:
            return missing[shipment.kind]
    for item in eticket_items(order):
        if item.eticket_finalized:
            continue
        files = await ticket_files_for(pos, order, item)
        if not isinstance(files, list):
            if files.state == "wait":
                continue
            return files.reason
        try:
            # Parsing PDFs is CPU work: off the event loop, which is answering checkouts meanwhile. The very
            # check fulfilment makes before uploading (select_pages), its pages kept for it.
            selected = await off_loop(select_pages, files, item.seat_list, item_id=item.id, quantity=item.quantity,
                                      ticket_dirs=allowed_ticket_dirs(settings.ticket_dirs, pos))
        except TicketFileProblem as problem:
            return str(problem)
        keep_chosen_pages(order, item, selected)
    return None
