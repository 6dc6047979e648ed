"""Fulfilment: taking an accepted, invoiced order to ``done`` for every delivery type (issue 6).

``make_fulfil`` builds the callable the pipeline runs for an order in
``fulfilling``; see ``runner`` for how each delivery type is handled.
"""

from __future__ import annotations

import httpx

from tevo_bridge.config import Settings
from tevo_bridge.fulfillment.context import Context, Download, Outcome, PosFacade
from tevo_bridge.fulfillment.pages import SelectedPages, TicketFileProblem, select_pages
from tevo_bridge.fulfillment.precheck import undeliverable
from tevo_bridge.fulfillment.runner import fulfil_order
from tevo_bridge.pipeline.processor import Fulfil, Precheck
from tevo_bridge.store import AsyncStore, OrderRow
from tevo_bridge.tevo.capped import read_capped
from tevo_bridge.tevo.client import TevoClient
from tevo_bridge.tevo.models import Order

__all__ = [
    "Outcome", "PosFacade", "SelectedPages", "TicketFileProblem", "make_fulfil", "make_precheck", "select_pages",
]


def make_fulfil(
    settings: Settings, tevo: TevoClient, pos_host: PosFacade, store: AsyncStore, *, download: Download | None = None
) -> Fulfil:
    """The pipeline's fulfil step: ``await fulfil(order, row) -> ("done" | "fulfilling" | "needs_review", reason)``.

    ``download`` fetches an airbill URL when Get Airbill answers with JSON
    instead of a PDF (format Unknown, §5.4); it defaults to a plain GET.
    Raises ``StepFailed`` or a ``TevoError`` when the step should be retried later.
    """
    ctx = Context(settings=settings.fulfillment, tevo=tevo, pos=pos_host, store=store,
                  download=download or _plain_download(settings.tevo.upload_timeout,
                                                        settings.fulfillment.max_airbill_bytes))

    async def fulfil(order: Order, row: OrderRow) -> tuple[str, str]:
        return await fulfil_order(ctx, order.id, order)  # the order as this job run read it

    return fulfil


def _plain_download(timeout: float, max_bytes: int) -> Download:
    async def download(url: str) -> bytes:
        # An airbill URL points at a file store, not the signed API: no TEvo credentials go with it.
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as http:
            async with http.stream("GET", url) as response:
                response.raise_for_status()
                return await read_capped(response, max_bytes, "airbill download")

    return download


def make_precheck(settings: Settings, pos_host: PosFacade) -> Precheck:
    """The pipeline's check before accepting: ``await precheck(order) -> None | "why it cannot be delivered"``."""

    async def precheck(order: Order) -> str | None:
        return await undeliverable(settings.fulfillment, pos_host, order)

    return precheck
