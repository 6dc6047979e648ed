"""Order Integration: TEvo asks us to hold, release and invoice while a buyer checks out (docs/tevo-api.md §7.3).

The hold is the seller's last chance to say no, so it fails closed: "held" is
answered only after the POS confirmed the hold and the hold row is committed;
anything else (no stock, POS error, budget exceeded) is a "no".  Every answer is
stored and replayed byte for byte to a repeated request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from tevo_bridge.clock import iso, now_iso
from tevo_bridge.intake.http import compact, json_response, key_matches
from tevo_bridge.log import get_logger
from tevo_bridge.metrics import HOLD_LATENCY, INBOUND
from tevo_bridge.pos import types as pos
from tevo_bridge.pos.errors import PosError, PosTimeout
from tevo_bridge.store import Event
from tevo_bridge.tevo.models import HoldRequest, InvoiceRequest, ReleaseRequest

log = get_logger(__name__)
UNAUTHORIZED = {"status": "error", "error": "unauthorized"}


def build_router(runtime: Any) -> APIRouter:
    oi = runtime.settings.server.order_integration
    router = APIRouter(tags=["Order Integration"])

    @router.post(oi.hold_path, summary="Hold tickets for a TEvo checkout", responses=_doc(200, 409, 422, 503, 401),
                 openapi_extra=_contract(oi.api_key_header, HoldRequest))
    async def hold(request: Request) -> Response:
        return await HoldCall(runtime, request).answer()

    @router.post(oi.release_path, summary="Release a hold", responses=_doc(200, 409, 422, 401),
                 openapi_extra=_contract(oi.api_key_header, ReleaseRequest, required=False))
    async def release(request: Request, global_id: str) -> Response:
        return await release_call(runtime, request, global_id)

    @router.post(oi.invoice_path, summary="Invoice a held order", responses=_doc(200, 202, 422, 401),
                 openapi_extra=_contract(oi.api_key_header, InvoiceRequest))
    async def invoice(request: Request) -> Response:
        return await invoice_call(runtime, request)

    return router


def _doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"description": "JSON body with a status field"} for code in codes}


def _contract(key_header: str, model: type[Any], required: bool = True) -> dict[str, Any]:
    """The key header and JSON body in the OpenAPI document: the handlers read the raw body (to apply the
    configured aliases first), so FastAPI cannot infer them; documented, the contract can be fuzzed."""
    return {
        "parameters": [{"name": key_header, "in": "header", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": required, "content": {"application/json": {"schema": model.model_json_schema()}}},
    }


# Shared steps ---------------------------------------------------------------------------


def authorised(runtime: Any, request: Request) -> bool:
    oi = runtime.settings.server.order_integration
    keys = [k.get_secret_value() for k in oi.api_keys]
    return key_matches(request.headers.get(oi.api_key_header), keys)


async def authorised_json(runtime: Any, request: Request) -> dict[str, Any] | Response:
    """The key check, then the JSON body: what every Order Integration call starts with."""
    if not authorised(runtime, request):
        INBOUND.labels("order_integration", "unauthorized").inc()
        return json_response(401, UNAUTHORIZED)
    data = await read_json(runtime, request)
    if isinstance(data, Response):
        INBOUND.labels("order_integration", "invalid").inc()
    return data


async def read_json(runtime: Any, request: Request) -> dict[str, Any] | Response:
    """The JSON object of the body with configured aliases renamed to canonical names, or a 422 answer."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):  # RecursionError: a JSON bomb nested deeper than the parser goes
        return invalid({"body": ["must be a JSON object"]})
    if not isinstance(data, dict):
        return invalid({"body": ["must be a JSON object"]})
    for canonical, aliases in runtime.settings.server.order_integration.aliases.items():
        for alias in aliases:
            if alias in data and canonical not in data:
                data[canonical] = data.pop(alias)
    return data


def invalid(errors: dict[str, list[str]]) -> Response:
    return json_response(422, {"status": "invalid", "errors": errors})


def validation_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "body"
        errors.setdefault(field, []).append(error["msg"])
    return errors


def dedupe(kind: str, payload: dict[str, Any]) -> str:
    return f"oi:{kind}:" + hashlib.sha256(compact(sorted(payload.items())).encode()).hexdigest()


# Hold ------------------------------------------------------------------------------------


class HoldCall:
    """One hold request, answered within ``server.hold_budget``."""

    def __init__(self, runtime: Any, request: Request) -> None:
        self.runtime = runtime
        self.request = request
        self.started = time.monotonic()
        self.budget = runtime.settings.server.hold_budget

    async def answer(self) -> Response:
        try:
            response = await self._answer()
        finally:
            HOLD_LATENCY.observe(time.monotonic() - self.started)
        return response

    async def _answer(self) -> Response:
        data = await authorised_json(self.runtime, self.request)
        if isinstance(data, Response):
            return data
        try:
            req = HoldRequest.model_validate(data)
        except ValidationError as exc:
            INBOUND.labels("order_integration", "invalid").inc()
            return invalid(validation_errors(exc))
        store = self.runtime.store
        expires = datetime.now(UTC) + timedelta(seconds=self.runtime.settings.server.hold_ttl)
        event = Event("order_integration", "hold", f"oi:hold:{req.global_id}", compact(data),
                      global_id=req.global_id)
        existing = await store.begin_hold(event, req.remote_id, req.quantity,
                                          str(req.price) if req.price is not None else None,
                                          req.ticket_group_id, iso(expires))
        if existing is not None:
            INBOUND.labels("order_integration", "duplicate").inc()
            return self._replay(req, existing)
        INBOUND.labels("order_integration", "recorded").inc()
        status, body, state, hold_id, reason, release = await self._hold_in_pos(req, expires)
        text = compact(body)
        await store.finish_hold(req.global_id, state, status, text, hold_id=hold_id, reason=reason,
                                release_in_pos=release)
        if release:
            self.runtime.wake()
        log.info("oi.hold", global_id=req.global_id, remote_id=req.remote_id, quantity=req.quantity, status=status,
                 reason=reason, ms=round((time.monotonic() - self.started) * 1000, 1))
        return json_response(status, text)

    def _replay(self, req: HoldRequest, existing: Any) -> Response:
        if existing.remote_id != req.remote_id or existing.quantity != req.quantity:
            return invalid({"global_id": ["already used for a different hold"]})
        if existing.response is None:
            # The first request is still with the POS: answer "no" for now, TEvo may ask again.
            return json_response(503, {"status": "error", "global_id": req.global_id, "reason": "in_progress"})
        return json_response(existing.status or 200, existing.response)

    async def _hold_in_pos(self, req: HoldRequest, expires: datetime) -> tuple[int, dict[str, Any], str, str | None,
                                                                                 str | None, bool]:
        hold = pos.Hold(global_id=req.global_id, remote_id=req.remote_id, quantity=req.quantity, price=req.price,
                        ticket_group_id=req.ticket_group_id, expires_at=expires)
        host = self.runtime.pos
        try:
            # One POS call: by the hook contract pos_hold also refuses a price below what the seller takes.
            result = await host.hold(hold, budget=self._remaining())
        except PosTimeout as exc:
            self.runtime.release_when_done(exc, req.global_id)
            return self._error(req, "pos_timeout")
        except PosError as exc:
            log.warning("oi.hold_pos_error", global_id=req.global_id, error=str(exc))
            self.runtime.note_pos_trouble(str(exc))
            return self._error(req, "pos_error")
        if not result.held:
            return self._unavailable(req, result.reason or "insufficient_quantity", result.available, None)
        body = {"status": "held", "global_id": req.global_id, "hold_id": result.hold_id or req.global_id,
                "remote_id": req.remote_id, "quantity": req.quantity, "expires_at": iso(expires)}
        return 200, body, "held", result.hold_id, None, False

    def _remaining(self) -> float:
        return max(0.05, self.budget - (time.monotonic() - self.started))

    def _unavailable(self, req: HoldRequest, reason: str, available: int | None, detail: str | None
                     ) -> tuple[int, dict[str, Any], str, None, str, bool]:
        body: dict[str, Any] = {"status": "unavailable", "global_id": req.global_id, "remote_id": req.remote_id,
                                "requested_quantity": req.quantity, "available_quantity": available,
                                "reason": reason}
        if detail:
            body["detail"] = detail
        return 409, body, "failed", None, reason, False

    def _error(self, req: HoldRequest, reason: str) -> tuple[int, dict[str, Any], str, None, str, bool]:
        # Fail closed, and free whatever the POS may have held anyway (a job; idempotent).
        return 503, {"status": "error", "global_id": req.global_id, "reason": reason}, "failed", None, reason, True


# Release ---------------------------------------------------------------------------------


async def release_call(runtime: Any, request: Request, path_global_id: str) -> Response:
    data = await authorised_json(runtime, request)
    if isinstance(data, Response):
        return data
    if "global_id" in data and str(data["global_id"]) != path_global_id:
        return invalid({"global_id": ["does not match the path"]})
    try:
        req = ReleaseRequest.model_validate({**data, "global_id": path_global_id})
    except ValidationError as exc:
        return invalid(validation_errors(exc))
    event = Event("order_integration", "release", f"oi:release:{req.global_id}:{now_iso()}", compact(data),
                  global_id=req.global_id)
    before = await runtime.store.release_hold(event)
    INBOUND.labels("order_integration", "recorded").inc()
    if before is not None and before.state == "invoiced":
        return json_response(409, {"status": "conflict", "global_id": req.global_id, "reason": "already_invoiced"})
    if before is not None and before.state in ("held", "pending"):
        runtime.wake()
        return json_response(200, {"status": "released", "global_id": req.global_id})
    log.info("oi.release_not_held", global_id=req.global_id, state=before.state if before else None)
    return json_response(200, {"status": "not_held", "global_id": req.global_id})


# Invoice ---------------------------------------------------------------------------------


async def invoice_call(runtime: Any, request: Request) -> Response:
    data = await authorised_json(runtime, request)
    if isinstance(data, Response):
        return data
    try:
        req = InvoiceRequest.model_validate(data)
    except ValidationError as exc:
        return invalid(validation_errors(exc))
    event = Event("order_integration", "invoice", f"oi:invoice:{req.global_id}", compact(data),
                  order_id=req.order_id, global_id=req.global_id)
    earlier, hold = await runtime.store.record_oi_invoice(event)
    if earlier is not None:
        if earlier.order_id != req.order_id:
            return invalid({"order_id": [f"global_id {req.global_id} already invoiced as order {earlier.order_id}"]})
        if earlier.response is not None:
            return json_response(earlier.status or 200, earlier.response)
    else:
        INBOUND.labels("order_integration", "recorded").inc()
        runtime.wake()
    status, body = await _invoice_answer(runtime, req, hold)
    text = compact(body)
    await runtime.store.set_oi_invoice_response(req.global_id, status, text)
    stored = await runtime.store.get_oi_invoice(req.global_id)
    return json_response(stored.status, stored.response)


async def _invoice_answer(runtime: Any, req: InvoiceRequest, hold: Any) -> tuple[int, dict[str, Any]]:
    """Wait a little for the worker to invoice (TEvo likes a final answer); otherwise say queued."""
    deadline = time.monotonic() + runtime.settings.server.invoice_budget
    while True:
        order = await runtime.store.get_order(req.order_id)
        if order is not None and order.invoice_id:
            return 200, {"status": "invoiced", "order_id": req.order_id, "global_id": req.global_id,
                         "invoice_id": order.invoice_id}
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.02)
    body: dict[str, Any] = {"status": "queued", "order_id": req.order_id, "global_id": req.global_id}
    if hold is None:
        body["warning"] = "unknown_hold"
    return runtime.settings.server.order_integration.queued_status, body
