"""HttpPos: every POS hook as one call of the API in openapi.yaml, and the API's error codes as the contract's errors.

The plugin keeps no state of its own: stock, holds, invoices and their idempotency live in the POS, which is the
only place that can make a check-and-reserve atomic across threads, processes and sales channels.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from urllib.parse import quote

from tevo_bridge import hookimpl
from tevo_bridge.log import REDACTOR
from tevo_bridge.pos import deadline
from tevo_bridge.pos.errors import OutOfStock, TicketFileUnreadable, TicketsNotReady, UnknownRemoteId, VoidRefused
from tevo_bridge.pos.types import (
    Availability,
    Buyer,
    Customer,
    Hold,
    HoldRefusal,
    HoldResult,
    Invoice,
    Item,
    Order,
    PosHealth,
    PriceDecision,
    TicketFile,
)
from tevo_bridge_http_pos.client import ApiError, BadAnswer, HttpPosError, PosClient
from tevo_bridge_http_pos.settings import HttpPosSettings
from tevo_bridge_http_pos.wire import (
    AvailabilityAnswer,
    CustomerAnswer,
    HealthAnswer,
    HoldAnswer,
    InvoiceAnswer,
    PriceAnswer,
    ReleaseAnswer,
    TicketFileBody,
    TicketFilesAnswer,
    VoidAnswer,
)

__all__ = ["TEVO_BRIDGE_CONTRACT", "HttpPos"]

#: The POS contract versions this plugin is built for (docs/plugins.md, "Contract versions").
TEVO_BRIDGE_CONTRACT = (2,)

#: The API's refusals of a hold, as the contract's hold refusal reasons.
HOLD_REFUSALS: dict[str, HoldRefusal] = {
    "out_of_stock": "insufficient_quantity",
    "unknown_listing": "unknown_remote_id",
    "price_not_acceptable": "price_not_acceptable",
    "hold_closed": "global_id_used",
}


def _segment(value: str) -> str:
    """A POS id as one path segment, whatever it contains."""
    return quote(value, safe="")


def _utc(moment: datetime) -> datetime:
    """An instant the API can read: a time without a zone is taken as UTC, as the daemon writes times."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _money(value: object) -> str:
    return format(value, "f")


def _int(details: object, key: str) -> int | None:
    value = details.get(key) if isinstance(details, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class HttpPos:
    """A POS that is a remote service implementing openapi.yaml (see the README)."""

    Config = HttpPosSettings

    def __init__(self, config: HttpPosSettings) -> None:
        self.settings = config
        REDACTOR.add([config.token.get_secret_value()])  # a log line that quotes the POS never shows the token
        self.client = PosClient(config)

    # -- lifecycle and health --------------------------------------------------------------------

    @hookimpl
    def pos_startup(self) -> None:
        self.client.open()

    @hookimpl
    def pos_shutdown(self) -> None:
        self.client.close()

    @hookimpl
    def pos_health(self) -> PosHealth:
        """``GET /health``, tried once: a health check that retries hides the outage it is there to show."""
        try:
            answer = self.client.call("GET", "/health", HealthAnswer, attempts=1)
        except HttpPosError as exc:
            if deadline.time_left() <= 0:
                raise  # the host stopped waiting: an answer now is lost, so say so the way every hook does
            return PosHealth(False, str(exc))
        if answer.ok:
            return PosHealth(True)
        return PosHealth(False, self.client.mask(answer.reason or "the POS says it is not ok (GET /health)"))

    # -- reads -----------------------------------------------------------------------------------

    @hookimpl
    def pos_check_inventory(self, item: Item) -> Availability:
        try:
            answer = self.client.call("GET", f"/listings/{_segment(item.remote_id)}/availability", AvailabilityAnswer)
        except ApiError as exc:
            if exc.code == "unknown_listing":
                return Availability(item.remote_id, 0, known=False)
            raise
        return Availability(item.remote_id, answer.available)

    @hookimpl
    def pos_accept_price(self, item: Item) -> PriceDecision:
        params = {"price": _money(item.price), "currency": item.currency, "quantity": str(item.quantity)}
        try:
            answer = self.client.call("GET", f"/listings/{_segment(item.remote_id)}/price-check", PriceAnswer,
                                      params=params)
        except ApiError as exc:
            if exc.code == "unknown_listing":
                return PriceDecision(False, f"remote_id {item.remote_id!r} is not in the POS")
            raise
        if answer.acceptable:
            return PriceDecision(True)
        return PriceDecision(False, answer.reason or f"the POS does not sell {item.remote_id} at {item.price}")

    @hookimpl
    def pos_find_customer(self, buyer: Buyer) -> Customer | None:
        try:
            answer = self.client.call("GET", f"/customers/{buyer.id}", CustomerAnswer)
        except ApiError as exc:
            if exc.code == "unknown_customer":
                return None
            raise
        return Customer(answer.id, answer.name)

    # -- writes, each keyed by a TEvo id ----------------------------------------------------------

    @hookimpl
    def pos_create_customer(self, buyer: Buyer) -> Customer:
        body = {"buyer_id": buyer.id, "name": buyer.name, "email": buyer.email, "phone": buyer.phone}
        answer = self.client.call("POST", "/customers", CustomerAnswer, key=str(buyer.id), json=body)
        return Customer(answer.id, answer.name)

    @hookimpl
    def pos_hold(self, hold: Hold) -> HoldResult:
        body = {
            "global_id": hold.global_id, "remote_id": hold.remote_id, "quantity": hold.quantity,
            "price": None if hold.price is None else _money(hold.price), "currency": hold.currency,
            "ticket_group_id": hold.ticket_group_id, "order_id": hold.order_id,
            "expires_at": None if hold.expires_at is None else _utc(hold.expires_at).isoformat(),
        }
        try:
            answer = self.client.call("POST", "/holds", HoldAnswer, key=hold.global_id, json=body)
        except ApiError as exc:
            reason = HOLD_REFUSALS.get(exc.code)
            if reason is None:
                raise
            available = 0 if reason == "unknown_remote_id" else _int(exc.details, "available")
            return HoldResult(False, available=available, reason=reason)
        return HoldResult(True, answer.hold_id, answer.available)

    @hookimpl
    def pos_release_hold(self, hold: Hold) -> bool:
        path = f"/holds/{_segment(hold.global_id)}/release"
        return self.client.call("POST", path, ReleaseAnswer, key=hold.global_id).released

    @hookimpl
    def pos_create_invoice(self, order: Order, customer: Customer | None) -> Invoice:
        body = {
            "order_id": order.order_id,
            "customer_id": customer.id if customer else None,
            "buyer": {"type": order.buyer.type, "id": order.buyer.id, "name": order.buyer.name,
                      "email": order.buyer.email, "phone": order.buyer.phone},
            "items": [{"item_id": i.item_id, "remote_id": i.remote_id, "quantity": i.quantity,
                       "price": _money(i.price), "fees": _money(i.fees), "seats": list(i.seats),
                       "global_id": i.global_id}
                      for i in order.items],
            "total": _money(order.total),
            "currency": order.currency,
            # What a broker's invoice carries besides the lines (contract 2's invoice context).
            "oid": order.oid, "reference": order.reference, "service_fee": _money(order.service_fee),
            "shipping": None if order.shipping is None else {
                "method": order.shipping.method, "cost": _money(order.shipping.cost),
                "service_type": order.shipping.service_type},
            "notes": list(order.notes),
        }
        try:
            answer = self.client.call("POST", "/invoices", InvoiceAnswer, key=str(order.order_id), json=body)
        except ApiError as exc:
            raise self._cannot_supply(exc, order) from None
        return Invoice(answer.invoice_id, answer.created)

    @staticmethod
    def _cannot_supply(exc: ApiError, order: Order) -> Exception:
        remote_id = exc.details.get("remote_id")
        remote_id = remote_id if isinstance(remote_id, str) else order.items[0].remote_id
        if exc.code == "unknown_listing":
            return UnknownRemoteId(remote_id)
        if exc.code == "out_of_stock":
            requested = _int(exc.details, "requested")
            wanted = sum(i.quantity for i in order.items if i.remote_id == remote_id)
            return OutOfStock(remote_id, wanted if requested is None else requested,
                              _int(exc.details, "available") or 0)
        return exc

    @hookimpl
    def pos_void_invoice(self, order: Order, invoice_id: str, reason: str) -> None:
        path = f"/invoices/{_segment(invoice_id)}/void"
        body = {"order_id": order.order_id, "reason": reason}
        try:
            self.client.call("POST", path, VoidAnswer, key=invoice_id, json=body)
        except ApiError as exc:
            if exc.code in ("void_refused", "unknown_invoice"):
                raise VoidRefused(invoice_id, exc.message) from None
            raise

    # -- files -----------------------------------------------------------------------------------

    @hookimpl
    def pos_ticket_files(self, order: Order, item: Item) -> list[TicketFile] | None:
        params: dict[str, str | list[str]] = {"order_id": str(order.order_id), "item_id": str(item.item_id),
                                              "quantity": str(item.quantity), "seat": list(item.seats)}
        path = f"/listings/{_segment(item.remote_id)}/ticket-files"
        try:
            answer = self.client.call("GET", path, TicketFilesAnswer, params=params)
        except ApiError as exc:
            if exc.code == "not_ready":
                raise TicketsNotReady(f"{exc.endpoint}: {exc.message}") from None
            if exc.code == "file_unreadable":
                where = exc.details.get("path") or exc.details.get("url") or exc.endpoint
                raise TicketFileUnreadable(str(where), exc.message) from None
            raise
        if not answer.files:
            return None
        return [self._file(path, n, body) for n, body in enumerate(answer.files)]

    def _file(self, path: str, n: int, body: TicketFileBody) -> TicketFile:
        if body.url is not None:
            try:
                pdf = self.client.fetch(body.url, f"files.{n} of GET {path}")
            except ApiError as exc:
                raise TicketFileUnreadable(body.url, exc.message) from None
        else:
            try:
                pdf = base64.b64decode(body.pdf_base64 or "", validate=True)
            except binascii.Error as exc:
                raise BadAnswer(f"GET {path}: field 'files.{n}.pdf_base64' is not base64: {exc}") from None
            if len(pdf) > self.settings.max_file_bytes:
                raise TicketFileUnreadable(f"files.{n} of GET {path}",
                                           f"larger than max_file_bytes ({self.settings.max_file_bytes})")
        return TicketFile(pdf, body.seat_pages, body.name)
