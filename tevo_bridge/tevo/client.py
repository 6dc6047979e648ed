"""TevoClient: the signed TEvo API calls the daemon makes (docs/tevo-api.md §3–§5, §9).

Two rules shape this module:
- A GET may be retried; a state-changing call that may have reached TEvo is
  never repeated here.  It raises ``OutcomeUnknown`` and the pipeline re-fetches.
- The client is shared: a 429/503 pauses every call, not just the one that got it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import stamina

from tevo_bridge import __version__, health
from tevo_bridge.log import get_logger
from tevo_bridge.metrics import TEVO_AUTH_FAILURES, TEVO_CALLS
from tevo_bridge.tevo.capped import read_capped
from tevo_bridge.tevo.errors import (
    BODY_EXCERPT,
    AuthError,
    ClientError,
    NotFound,
    OutcomeUnknown,
    RetryableError,
    TevoError,
    ValidationFailed,
)
from tevo_bridge.tevo.models import Item, Order, OrderPage, Shipment
from tevo_bridge.tevo.signing import TevoAuth, canonical_query, json_body
from tevo_bridge.tevo.transport import TransportKind, transport_for

log = get_logger(__name__)


class RejectReason(str, enum.Enum):
    """The six reject reasons, spelt exactly as TEvo requires (§3.1)."""

    NO_LONGER_AVAILABLE = "Tickets No Longer Available"
    PRICED_INCORRECTLY = "Tickets Priced Incorrectly"
    DUPLICATE = "Duplicate Order"
    TEST = "Test Order"
    FRAUDULENT = "Fraudulent Order"
    OTHER = "Other"


@dataclass(frozen=True)
class Airbill:
    """A downloaded airbill (§5.4): the PDF itself, or, when TEvo's JSON holds only a link, its ``url``.

    ``content_type`` is the media type TEvo answered with, so a log can show which form it uses.
    """

    content: bytes
    content_type: str
    url: str | None = None
    tracking_number: str | None = None


# Where a JSON airbill may hold its PDF (base64) or its URL: the format is undocumented (§5.4).
AIRBILL_FIELDS = ("airbill", "file", "url")


@dataclass(frozen=True)
class ClientOptions:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    upload_timeout: float = 120.0
    max_concurrency: int = 4
    max_retries: int = 4
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    http_transport: TransportKind = "builtin"


class TevoClient:
    """Async TEvo API client.  Use as ``async with TevoClient(...) as tevo``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        secret: str,
        options: ClientOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = options or ClientOptions()
        self._base = base_url.rstrip("/") + "/v9"
        if transport is None:
            transport = transport_for(base_url, self.options.http_transport, self.options.max_concurrency)
        self._http = httpx.AsyncClient(
            auth=TevoAuth(token, secret),
            headers={"Accept": "application/json", "User-Agent": f"tevo-bridge/{__version__}"},
            timeout=httpx.Timeout(self.options.read_timeout, connect=self.options.connect_timeout),
            follow_redirects=False,  # the signature covers the path (§9)
            transport=transport,
        )
        self._slots = asyncio.Semaphore(self.options.max_concurrency)
        self._not_before = 0.0
        self._retrying = stamina.AsyncRetryingCaller(
            attempts=self.options.max_retries + 1,
            timeout=None,
            wait_initial=self.options.backoff_base,
            wait_max=self.options.backoff_cap,
            wait_jitter=self.options.backoff_base,
        ).on(_retry_hook)

    @classmethod
    def from_settings(cls, tevo: Any, transport: httpx.AsyncBaseTransport | None = None, *,
                      probe_timeout: float | None = None) -> TevoClient:
        """The configured client; with ``probe_timeout``, one attempt per call, each timeout capped at it: a
        person waiting on ``check --online`` wants "unreachable" in seconds, not after the daemon's retries."""
        options = ClientOptions(
            connect_timeout=tevo.connect_timeout,
            read_timeout=tevo.read_timeout,
            upload_timeout=tevo.upload_timeout,
            max_concurrency=tevo.max_concurrency,
            max_retries=tevo.max_retries,
            backoff_base=tevo.backoff_base,
            backoff_cap=tevo.backoff_cap,
            http_transport=tevo.http_transport,
        )
        if probe_timeout is not None:
            options = replace(options, max_retries=0, connect_timeout=min(options.connect_timeout, probe_timeout),
                              read_timeout=min(options.read_timeout, probe_timeout))
        return cls(tevo.base_url, tevo.token.get_secret_value(), tevo.secret.get_secret_value(), options, transport)

    async def __aenter__(self) -> TevoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # Orders (§3) -----------------------------------------------------------------

    async def list_orders_page(self, page: int = 1, per_page: int = 100, **filters: Any) -> OrderPage:
        params = {**filters, "page": page, "per_page": per_page}
        return OrderPage.model_validate(await self._get("/orders", params, endpoint="orders.list"))

    async def iter_orders(self, per_page: int = 100, max_pages: int = 50, **filters: Any) -> AsyncIterator[Order]:
        """Every order matching the filters, page after page (§8 pagination decision)."""
        page = 1
        while page <= max_pages:
            result = await self.list_orders_page(page, per_page, **filters)
            for order in result.orders:
                yield order
            # Let the response drive the loop: one wiki version caps per_page at 10.
            if not result.orders or result.current_page * max(result.per_page, 1) >= result.total_entries:
                return
            page = result.current_page + 1

    async def get_order(self, order_id: int) -> Order:
        return Order.model_validate(await self._get(f"/orders/{order_id}", endpoint="orders.show"))

    async def accept_order(self, order_id: int, reviewer_id: int, seats: Sequence[int] | None = None) -> Order:
        body: dict[str, Any] = {"reviewer_id": reviewer_id}
        if seats:
            body["seats"] = list(seats)
        data = await self._post(f"/orders/{order_id}/accept", body, endpoint="orders.accept")
        return Order.model_validate(data)

    async def reject_order(
        self, order_id: int, reason: RejectReason, reviewer_id: int, notes: str | None = None
    ) -> Order:
        body: dict[str, Any] = {"reason": RejectReason(reason).value, "reviewer_id": reviewer_id}
        if notes:
            body["rejection_notes"] = notes[:1000]
        return Order.model_validate(await self._post(f"/orders/{order_id}/reject", body, endpoint="orders.reject"))

    async def complete_order(self, order_id: int) -> Any:
        return await self._post(f"/orders/{order_id}/complete", None, endpoint="orders.complete")

    async def get_user(self, user_id: int) -> dict[str, Any]:
        user: dict[str, Any] = await self._get(f"/users/{user_id}", endpoint="users.show")
        return user

    # E-tickets (§4): item URLs take item.id; deliver_etickets bodies take order_item_id ----

    async def get_item(self, order_id: int, item: Item | int) -> Item:
        item_id = item.id if isinstance(item, Item) else item
        return Item.model_validate(await self._get(f"/orders/{order_id}/items/{item_id}", endpoint="items.show"))

    async def add_etickets(self, order_id: int, item: Item, files: Iterable[bytes]) -> Item:
        body = {"files": [base64.b64encode(pdf).decode("ascii") for pdf in files]}
        data = await self._post(
            f"/orders/{order_id}/items/{item.id}/add_etickets", body, endpoint="items.add_etickets", upload=True
        )
        return Item.model_validate(data)

    async def finalize_etickets(
        self, order_id: int, item: Item, keep_pages: Sequence[int], ignore_quantity: bool = False
    ) -> Item:
        body: dict[str, Any] = {"keep_pages": list(keep_pages)}
        if ignore_quantity:
            body["ignore_quantity"] = True
        data = await self._post(
            f"/orders/{order_id}/items/{item.id}/finalize_etickets", body, endpoint="items.finalize_etickets"
        )
        return Item.model_validate(data)

    async def remove_etickets(self, order_id: int, item: Item) -> Item:
        # It really is a GET that changes state (§4), so it is not retried blindly either.
        data = await self._request(
            "GET", f"/orders/{order_id}/items/{item.id}/remove_etickets", endpoint="items.remove_etickets",
            idempotent=False,
        )
        return Item.model_validate(data)

    async def deliver_etickets(self, order_id: int, files: Sequence[tuple[Item, bytes]]) -> Any:
        body = {
            "etickets": [
                {"item_id": item.order_item_id, "eticket": base64.b64encode(pdf).decode("ascii")} for item, pdf in files
            ]
        }
        return await self._post(f"/orders/{order_id}/deliver_etickets", body, endpoint="orders.deliver_etickets",
                                upload=True)

    # Shipments (§5) ------------------------------------------------------------------

    async def get_shipment(self, shipment_id: int) -> Shipment:
        return Shipment.model_validate(await self._get(f"/shipments/{shipment_id}", endpoint="shipments.show"))

    async def update_shipment(self, shipment_id: int, fields: Mapping[str, Any]) -> Shipment:
        """Replaces the shipment: the answer carries a new id (§5.3)."""
        data = await self._request(
            "PUT", f"/shipments/{shipment_id}", body=dict(fields), endpoint="shipments.update", idempotent=False
        )
        return Shipment.model_validate(data)

    async def complete_shipment(
        self,
        shipment_id: int,
        tm_mobile_link: Sequence[str] | None = None,
        transfer_source: str | None = None,
        tickets: Sequence[Mapping[str, Any]] | None = None,
    ) -> Shipment:
        body: dict[str, Any] = {}
        if tm_mobile_link:
            body["tm_mobile_link"] = ",".join(tm_mobile_link)
        if transfer_source:
            body["transfer_source"] = transfer_source
        if tickets:
            body["tickets"] = [dict(t) for t in tickets]
        data = await self._request(
            "PUT", f"/shipments/{shipment_id}/complete", body=body or None, endpoint="shipments.complete",
            idempotent=False,
        )
        return Shipment.model_validate(data)

    async def generate_airbill(self, shipment_id: int) -> Any:
        return await self._post(f"/shipments/{shipment_id}/airbill", None, endpoint="shipments.airbill")

    async def get_airbill(self, shipment_id: int, *, max_bytes: int | None = None) -> Airbill:
        """Download an airbill, as JSON (the form both official clients decode) or as raw PDF bytes (§5.4).

        Whatever comes back must turn out to be a PDF or a link to one; anything else raises
        ``ClientError``, so an answer that is not an airbill is never saved as one; an answer larger
        than ``max_bytes`` raises ``ResponseTooLarge`` before it is all read.
        """
        endpoint = "shipments.get_airbill"
        response = await self._send_with_retries(
            "GET", f"/shipments/{shipment_id}/get_airbill", None, None, endpoint, True, True, max_bytes=max_bytes
        )
        content_type = response.headers.get("content-type", "")
        if is_json_type(content_type):
            return _airbill_from_json(_json_of(response, endpoint), content_type, endpoint, response.status_code)
        if not _is_pdf(response.content):
            raise ClientError(
                f"{endpoint}: TEvo answered {content_type or 'without a content type'}, neither JSON nor a PDF",
                status=response.status_code, body=response.text[:BODY_EXCERPT], endpoint=endpoint,
            )
        return Airbill(response.content, content_type or "application/pdf")

    # Transport -------------------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, Any] | None = None, *, endpoint: str) -> Any:
        return await self._request("GET", path, params=params, endpoint=endpoint, idempotent=True)

    async def _post(self, path: str, body: Any, *, endpoint: str, upload: bool = False) -> Any:
        return await self._request("POST", path, body=body, endpoint=endpoint, idempotent=False, upload=upload)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        endpoint: str,
        idempotent: bool,
        upload: bool = False,
    ) -> Any:
        response = await self._send_with_retries(method, path, params, body, endpoint, idempotent, upload)
        if not response.content:
            return {}
        return _json_of(response, endpoint)

    async def _send_with_retries(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any, endpoint: str,
        idempotent: bool, upload: bool, *, max_bytes: int | None = None,
    ) -> httpx.Response:
        query = canonical_query(params or {})
        url = self._base + path + (f"?{query}" if query else "")
        content = json_body(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        timeout = httpx.Timeout(self.options.upload_timeout, connect=self.options.connect_timeout) if upload else None

        async def attempt() -> httpx.Response:
            return await self._send_once(method, url, content, headers, timeout, endpoint, idempotent,
                                         max_bytes=max_bytes)

        return await self._retrying(attempt)

    async def _send_once(
        self, method: str, url: str, content: bytes | None, headers: dict[str, str] | None,
        timeout: httpx.Timeout | None, endpoint: str, idempotent: bool, *, max_bytes: int | None = None,
    ) -> httpx.Response:
        await self._wait_for_pause()
        started = time.monotonic()
        async with self._slots:
            try:
                kwargs: dict[str, Any] = {"content": content, "headers": headers}
                if timeout is not None:
                    kwargs["timeout"] = timeout
                if max_bytes is None:
                    response = await self._http.request(method, url, **kwargs)
                else:
                    response = await self._capped_request(method, url, kwargs, max_bytes, endpoint)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never left: always safe to try again.
                TEVO_CALLS.labels(endpoint, "transport").inc()
                health.TEVO.failed(f"{endpoint}: could not connect ({type(exc).__name__})")
                raise RetryableError(f"{endpoint}: could not connect to TEvo ({type(exc).__name__})",
                                     endpoint=endpoint) from None
            except httpx.TransportError as exc:
                TEVO_CALLS.labels(endpoint, "transport").inc()
                message = f"{endpoint}: no answer from TEvo ({type(exc).__name__})"
                health.TEVO.failed(message)
                if idempotent:
                    raise RetryableError(message, endpoint=endpoint) from None
                raise OutcomeUnknown(message + "; re-fetch before repeating", endpoint=endpoint) from None
        log.debug("tevo.call", endpoint=endpoint, method=method, status=response.status_code,
                  ms=round((time.monotonic() - started) * 1000, 1))
        self._raise_for_status(response, endpoint, idempotent)
        TEVO_CALLS.labels(endpoint, "ok").inc()
        health.TEVO.ok()
        return response

    async def _capped_request(
        self, method: str, url: str, kwargs: dict[str, Any], max_bytes: int, endpoint: str,
    ) -> httpx.Response:
        """The answer read with a size limit; returned whole and already decoded, as ``request`` returns it."""
        request = self._http.build_request(method, url, **kwargs)
        streamed = await self._http.send(request, stream=True)
        try:
            body = await read_capped(streamed, max_bytes, endpoint)
        finally:
            await streamed.aclose()
        headers = [(k, v) for k, v in streamed.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length")]  # ``body`` is decoded already
        return httpx.Response(streamed.status_code, headers=headers, content=body, request=request)

    def _raise_for_status(self, response: httpx.Response, endpoint: str, idempotent: bool) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        body = _error_body(response)
        TEVO_CALLS.labels(endpoint, str(status)).inc()
        health.TEVO.failed(f"{endpoint}: HTTP {status}")
        if status == 401:
            TEVO_AUTH_FAILURES.inc()
        # A 404 for a missing record says which one in "message" (§9); "error" alone is just "Not Found".
        error, tevo_message = _text_field(body, "error"), _text_field(body, "message")
        detail = ": ".join(part for part in (error, tevo_message) if part)
        message = f"{endpoint}: TEvo answered {status}" + (f": {detail}" if detail else "")
        kw: dict[str, Any] = {"status": status, "body": body, "endpoint": endpoint}
        if status in (429, 503):
            retry_after = _retry_after(response)
            self._pause(retry_after if retry_after is not None else self.options.backoff_base)
            if status == 429 or idempotent:
                # A 429 is refused before TEvo acts on it, so even a POST may be sent again.
                raise RetryableError(message, retry_after=retry_after, **kw)
            raise OutcomeUnknown(message + "; re-fetch before repeating", **kw)
        if status >= 500:
            if idempotent:
                raise RetryableError(message, **kw)
            raise OutcomeUnknown(message + "; re-fetch before repeating", **kw)
        if status == 401:
            raise AuthError(message, **kw)
        if status == 404:
            raise NotFound(message, message=tevo_message, **kw)
        if status in (400, 422):
            errors = _field_errors(body)
            text = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items())
            raise ValidationFailed(message + (f" ({text})" if text else ""), errors=errors, **kw)
        raise ClientError(message, **kw)

    def _pause(self, seconds: float) -> None:
        self._not_before = max(self._not_before, time.monotonic() + min(seconds, self.options.backoff_cap))

    async def _wait_for_pause(self) -> None:
        delay = self._not_before - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def _retry_hook(exc: Exception) -> bool | float:
    if isinstance(exc, RetryableError):
        # With Retry-After, the client-wide pause already waits that long; add no backoff on top.
        return 0.0 if exc.retry_after is not None else True
    return False


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def is_json_type(content_type: str | None) -> bool:
    """True for any JSON media type, whatever its parameters (§1).

    TEvo labels its JSON ``application/vnd.ticketevolution.api+json; version=9``, not
    ``application/json``, so the client must recognise ``*/json`` and ``*/*+json`` alike.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    subtype = media_type.partition("/")[2]
    return subtype == "json" or subtype.endswith("+json")


def _json_of(response: httpx.Response, endpoint: str) -> Any:
    """The decoded body of a successful answer, which must be JSON by its content type and its text."""
    content_type = response.headers.get("content-type", "")
    if is_json_type(content_type):
        try:
            return response.json()
        except ValueError:
            pass
    raise ClientError(
        f"{endpoint}: TEvo answered {response.status_code} with a body that is not JSON "
        f"({content_type or 'no content type'})",
        status=response.status_code, body=response.text[:BODY_EXCERPT], endpoint=endpoint,
    )


def _airbill_from_json(data: Any, content_type: str, endpoint: str, status: int) -> Airbill:
    """The PDF (base64) or the URL a JSON airbill holds; without either it is an error, not a file."""
    if isinstance(data, dict):
        tracking = data.get("tracking_number")
        tracking_number = str(tracking) if tracking else None
        for key in AIRBILL_FIELDS:
            value = data.get(key)
            if not isinstance(value, str):
                continue
            if value.startswith(("https://", "http://")):
                return Airbill(b"", content_type, url=value, tracking_number=tracking_number)
            pdf = _base64_pdf(value)
            if pdf is not None:
                return Airbill(pdf, content_type, tracking_number=tracking_number)
    held = f"keys: {', '.join(sorted(map(str, data)))}" if isinstance(data, dict) else type(data).__name__
    raise ClientError(f"{endpoint}: TEvo's JSON airbill holds neither a base64 PDF nor a URL ({held})",
                      status=status, body=data if isinstance(data, dict) else None, endpoint=endpoint)


def _base64_pdf(text: str) -> bytes | None:
    """The PDF a base64 string encodes (line breaks allowed, as Ruby's encoder writes them), else None."""
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if _is_pdf(raw) else None


def _is_pdf(raw: bytes) -> bool:
    # PDF readers accept the %PDF- header anywhere in the first 1024 bytes.
    return b"%PDF-" in raw[:1024]


def _error_body(response: httpx.Response) -> Any:
    if is_json_type(response.headers.get("content-type")):
        try:
            return response.json()
        except ValueError:
            pass
    return {"error": response.text[:BODY_EXCERPT]}


def _text_field(body: Any, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def _field_errors(body: Any) -> dict[str, Any]:
    """TEvo puts 422 errors on the resource, or inside the first element of a create's array (§9)."""
    if not isinstance(body, dict):
        return {}
    errors = body.get("errors")
    if isinstance(errors, dict):
        return errors
    for value in body.values():
        if isinstance(value, list) and value and isinstance(value[0], dict) and isinstance(value[0].get("errors"), dict):
            first: dict[str, Any] = value[0]["errors"]
            return first
    return {}


__all__ = ["Airbill", "ClientOptions", "RejectReason", "TevoClient", "TevoError", "is_json_type"]
