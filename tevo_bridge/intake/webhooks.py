"""TEvo webhooks (docs/tevo-api.md §6): record, queue, answer; the body is only a hint.

No signature is documented, so the path token is the authentication and the
worker re-fetches every order through the signed API before acting: a forged
webhook can do no more than cause a re-fetch.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from tevo_bridge.intake.formdata import parse_form
from tevo_bridge.intake.http import compact, error_fields, json_response, key_matches
from tevo_bridge.intake.routing import PlainRoute
from tevo_bridge.log import get_logger
from tevo_bridge.metrics import INBOUND, child
from tevo_bridge.store import Event
from tevo_bridge.tevo.models import MAX_ID, MAX_ID_DIGITS, WebhookForm

if TYPE_CHECKING:  # annotations only: tevo_bridge.seams imports modules that import this one
    from tevo_bridge.seams import WebhookRuntime

log = get_logger(__name__)

# order_canceled is Assumed (TEvo documents only the heading "Order Canceled", §6.1): acting on it costs one
# re-fetch, and a cancel of an invoiced order must reach the worker for its invoice to be voided.
ACTIONABLE = frozenset({"order_created", "fraud_response_received", "order_canceled"})
NOT_FOUND = {"status": "error", "error": "not_found"}


def build_router(runtime: WebhookRuntime) -> APIRouter:
    router = APIRouter(tags=["Webhooks"], route_class=PlainRoute)

    @router.post("/webhooks/tevo/{token}", summary="TEvo order and catalog notifications",
                 responses={200: {"description": "received, duplicate or ignored"}, 400: {"description": "invalid"},
                            404: {"description": "unknown token"}, 413: {"description": "too large"}},
                 openapi_extra={"requestBody": {"required": True, "content": {
                     "application/x-www-form-urlencoded": {"schema": WebhookForm.model_json_schema()}}}})
    async def webhook(request: Request, token: str) -> Response:
        return await receive(runtime, request, token)

    return router


async def receive(runtime: WebhookRuntime, request: Request, token: str) -> Response:
    response = await _receive(runtime, request, token)
    if response.status_code == 400:
        runtime.refusals.note(request, "webhook", "invalid_body", 400, errors=error_fields(response))
    return response


async def _receive(runtime: WebhookRuntime, request: Request, token: str) -> Response:
    expected = runtime.settings.server.webhook_token.get_secret_value()
    refused = ("webhook_token_not_set" if not expected else "webhook_token_wrong" if not key_matches(token, [expected])
               else "address_not_allowed" if not _address_allowed(runtime, request) else None)
    if refused is not None:
        child(INBOUND, "webhook", "not_found").inc()
        runtime.refusals.note(request, "webhook", refused, 404)  # the path holds the token: never logged
        return json_response(404, NOT_FOUND)
    form = _parse(await request.body(), request.headers.get("content-type", ""))
    if isinstance(form, Response):
        child(INBOUND, "webhook", "invalid").inc()
        return form
    try:
        hook = WebhookForm.model_validate(form)
    except ValidationError as exc:
        child(INBOUND, "webhook", "invalid").inc()
        return _invalid({".".join(map(str, e["loc"])) or "form": [e["msg"]] for e in exc.errors()})

    if hook.recipient not in (None, "seller") or hook.event_type not in ACTIONABLE:
        return await _ignore(runtime, hook, form)
    body = _order_body(hook)
    if isinstance(body, Response):
        child(INBOUND, "webhook", "invalid").inc()
        return body
    order_id = body.get("id")
    group = hook.order_group_id if order_id is None else None
    key = "webhook:" + hashlib.sha256(
        compact([hook.event_type, hook.order_group_id, order_id, body.get("updated_at")]).encode()
    ).hexdigest()
    event = Event("webhook", hook.event_type, key, compact(form), order_id=order_id, order_group_id=group)
    new = await runtime.store.record_event(event)
    child(INBOUND, "webhook", "received" if new else "duplicate").inc()
    if new:
        runtime.wake(1)  # one event, one job
    log.info("webhook.received", event_type=hook.event_type, order_id=order_id, duplicate=not new)
    return json_response(200, {"status": "received" if new else "duplicate"})


def _parse(raw: bytes, content_type: str) -> dict[str, str] | Response:
    if content_type.split(";")[0].strip().lower() not in ("application/x-www-form-urlencoded", ""):
        return _invalid({"content-type": ["must be application/x-www-form-urlencoded"]})
    try:
        pairs = parse_form(raw, strict_parsing=bool(raw), max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return _invalid({"form": ["not a valid UTF-8 url-encoded form"]})
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            return _invalid({key: ["given more than once"]})
        form[key] = value
    return form


def _order_body(hook: WebhookForm) -> dict[str, Any] | Response:
    try:
        body = hook.body_json()
    except (ValueError, RecursionError):
        return _invalid({"body": ["must be the order as JSON"]})
    if not isinstance(body, dict):
        return _invalid({"body": ["must be the order as a JSON object"]})
    order_id = body.get("id")
    if isinstance(order_id, str) and len(order_id) <= MAX_ID_DIGITS and _digits(order_id):
        order_id = int(order_id)
    if order_id is None and hook.order_group_id and _digits(hook.order_group_id):
        order_id = None  # no id in the body: the worker lists the order group instead (§6.2)
    elif not isinstance(order_id, int) or isinstance(order_id, bool) or not 0 < order_id <= MAX_ID:
        return _invalid({"body.id": ["must be the TEvo order id (an integer)"]})
    updated_at = body.get("updated_at")
    return {"id": order_id, "updated_at": updated_at if isinstance(updated_at, str) else None}


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts "²", which ``int`` refuses."""
    return text.isascii() and text.isdigit()


async def _ignore(runtime: WebhookRuntime, hook: WebhookForm, form: dict[str, str]) -> Response:
    key = "webhook:ignored:" + hashlib.sha256(json.dumps(form, sort_keys=True).encode()).hexdigest()
    event = Event("webhook", hook.event_type, key, compact(form), ignored=True)
    await runtime.store.record_event(event)
    child(INBOUND, "webhook", "ignored").inc()
    log.info("webhook.ignored", event_type=hook.event_type, recipient=hook.recipient,
             order_group_id=hook.order_group_id)
    return json_response(200, {"status": "ignored"})


def _invalid(errors: dict[str, list[str]]) -> Response:
    return json_response(400, {"status": "invalid", "errors": errors})


def _address_allowed(runtime: WebhookRuntime, request: Request) -> bool:
    allowed = runtime.settings.server.allowed_ips
    if not allowed:
        return True
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allowed)
