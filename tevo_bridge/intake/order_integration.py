"""Order Integration: TEvo asks us to hold, release and invoice while a buyer checks out (docs/tevo-api.md §7.3).

The hold is the seller's last chance to say no, so it fails closed: "held" is
answered only after the POS confirmed the hold and the hold row is committed;
anything else (no stock, POS error, budget exceeded) is a "no".  Every answer is
stored and replayed byte for byte to a repeated request while it is still true:
a hold since released, expired or invoiced is answered ``hold_closed`` instead
of its stale "held", and an invoice for an order TEvo does not have is answered
``order_not_found`` when that is known in time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from tevo_bridge.clock import iso, now_iso
from tevo_bridge.intake.http import compact, error_fields, json_response, key_matches
from tevo_bridge.intake.routing import PlainRoute
from tevo_bridge.log import get_logger
from tevo_bridge.metrics import HOLD_LATENCY, HOLDS_ANSWERED, INBOUND, child
from tevo_bridge.pos import types as pos
from tevo_bridge.pos.errors import PosError, PosTimeout
from tevo_bridge.store import Event, HoldRow, OrderRow
from tevo_bridge.store.watch import is_settled, woken_within
from tevo_bridge.tevo.errors import NotFound, TevoError
from tevo_bridge.tevo.models import HoldRequest, InvoiceRequest, ReleaseRequest

if TYPE_CHECKING:  # annotations only: tevo_bridge.seams imports modules that import this one
    from tevo_bridge.seams import OrderIntegrationRuntime

log = get_logger(__name__)
UNAUTHORIZED = {"status": "error", "error": "unauthorized"}
#: The least time an invoice call gives TEvo to say whether an order exists (asked only when the
#: pipeline handed the order to a person): TEvo expects answers within 5 s on average
#: (docs/tevo-api.md §7.1).
CONFIRM_TIMEOUT = 1.0


def build_router(runtime: OrderIntegrationRuntime) -> APIRouter:
    oi = runtime.settings.server.order_integration
    router = APIRouter(tags=["Order Integration"], route_class=PlainRoute)

    @router.post(oi.hold_path, summary="Hold tickets for a TEvo checkout", responses=_doc(HOLD_ANSWERS),
                 openapi_extra=_contract(oi.api_key_header, HoldRequest))
    async def hold(request: Request) -> Response:
        return note_refusal(runtime, request, await HoldCall(runtime, request).answer())

    @router.post(oi.release_path, summary="Release a hold", responses=_doc(RELEASE_ANSWERS),
                 openapi_extra=_contract(oi.api_key_header, ReleaseRequest, required=False))
    async def release(request: Request, global_id: str) -> Response:
        return note_refusal(runtime, request, await release_call(runtime, request, global_id))

    @router.post(oi.invoice_path, summary="Invoice a held order", responses=_doc(INVOICE_ANSWERS),
                 openapi_extra=_contract(oi.api_key_header, InvoiceRequest))
    async def invoice(request: Request) -> Response:
        return note_refusal(runtime, request, await invoice_call(runtime, request))

    return router


# What each call answers, for the OpenAPI document: status -> (meaning, {example name: body}).
Answers = dict[int, tuple[str, dict[str, dict[str, Any]]]]
_G = "7f3c2a9e-5b1d-4e8a-a6c4-2d9f8b1e3c57"
_INVALID = ("the body is not valid; nothing was recorded",
            {"invalid": {"status": "invalid", "errors": {"quantity": ["must be an integer >= 1"]}}})
_UNAUTHORIZED = ("the API key is missing or wrong; nothing was recorded", {"unauthorized": UNAUTHORIZED})
HOLD_ANSWERS: Answers = {
    200: ("held: the POS holds the tickets until expires_at (a repeat while it still holds them gets the same bytes)",
          {"held": {"status": "held", "global_id": _G, "hold_id": "h_7f3a", "remote_id": "91508", "quantity": 2,
                    "expires_at": "2026-01-31T18:15:00Z"}}),
    409: ("no: the POS cannot supply the tickets (unavailable), or this global_id's hold was since released, "
          "expired or invoiced (hold_closed: hold again under a new global_id)",
          {"unavailable": {"status": "unavailable", "global_id": _G, "remote_id": "91508", "requested_quantity": 2,
                           "available_quantity": 1, "reason": "insufficient_quantity"},
           "hold_closed": {"status": "conflict", "global_id": _G, "reason": "hold_closed", "state": "released",
                           "detail": "TEvo released this hold: it holds no tickets any more; hold again under a "
                                     "new global_id"}}),
    422: _INVALID,
    503: ("no for now: the POS failed or ran out of time (final for this global_id), or the first request with "
          "this global_id is still with the POS (in_progress)",
          {"pos_timeout": {"status": "error", "global_id": _G, "reason": "pos_timeout"}}),
    401: _UNAUTHORIZED,
}
RELEASE_ANSWERS: Answers = {
    200: ("released, or not_held (unknown, failed, expired or already released)",
          {"released": {"status": "released", "global_id": _G}, "not_held": {"status": "not_held", "global_id": _G}}),
    409: ("the hold was invoiced: sold tickets are not freed",
          {"already_invoiced": {"status": "conflict", "global_id": _G, "reason": "already_invoiced"}}),
    422: _INVALID,
    401: _UNAUTHORIZED,
}
INVOICE_ANSWERS: Answers = {
    200: ("invoiced in the POS within the budget",
          {"invoiced": {"status": "invoiced", "order_id": 402190, "global_id": _G, "invoice_id": "INV-88"}}),
    202: ("recorded; the pipeline invoices it shortly ([server.order_integration] queued_status can make this 200)",
          {"queued": {"status": "queued", "order_id": 402190, "global_id": _G}}),
    409: ("recorded, but TEvo has no such order: nothing was invoiced and the order waits for a person",
          {"order_not_found": {"status": "conflict", "order_id": 402190, "global_id": _G, "reason": "order_not_found",
                               "detail": "TEvo has no order 402190: nothing was invoiced"}}),
    422: ("the body is not valid, or the global_id was already invoiced as another order; nothing was recorded",
          _INVALID[1]),
    401: _UNAUTHORIZED,
}


def _doc(answers: Answers) -> dict[int | str, dict[str, Any]]:
    return {code: {"description": meaning,
                   "content": {"application/json": {"examples": {name: {"value": body}
                                                                 for name, body in examples.items()}}}}
            for code, (meaning, examples) in answers.items()}


def _contract(key_header: str, model: type[Any], required: bool = True) -> dict[str, Any]:
    """The key header and JSON body in the OpenAPI document: the handlers read the raw body (to apply the
    configured aliases first), so FastAPI cannot infer them; documented, the contract can be fuzzed."""
    return {
        "parameters": [{"name": key_header, "in": "header", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": required, "content": {"application/json": {"schema": model.model_json_schema()}}},
    }


# Shared steps ---------------------------------------------------------------------------


def note_refusal(runtime: OrderIntegrationRuntime, request: Request, response: Response) -> Response:
    """Log a refused call (401, 422) for the seller, by reason and peer; never the key that was sent."""
    if response.status_code == 401:
        header = runtime.settings.server.order_integration.api_key_header
        reason = "api_key_wrong" if request.headers.get(header) else "api_key_missing"
        runtime.refusals.note(request, "order_integration", reason, 401, header=header)
    elif response.status_code == 422:
        runtime.refusals.note(request, "order_integration", "invalid_body", 422,
                              errors=error_fields(response), path=getattr(request.scope.get("route"), "path", request.url.path))
    return response


def authorised(runtime: OrderIntegrationRuntime, request: Request) -> bool:
    oi = runtime.settings.server.order_integration
    keys = [k.get_secret_value() for k in oi.api_keys]
    return key_matches(request.headers.get(oi.api_key_header), keys)


async def authorised_json(runtime: OrderIntegrationRuntime, request: Request) -> dict[str, Any] | Response:
    """The key check, then the JSON body: what every Order Integration call starts with."""
    if not authorised(runtime, request):
        child(INBOUND, "order_integration", "unauthorized").inc()
        return json_response(401, UNAUTHORIZED)
    data = await read_json(runtime, request)
    if isinstance(data, Response):
        child(INBOUND, "order_integration", "invalid").inc()
    return data


async def read_json(runtime: OrderIntegrationRuntime, request: Request) -> dict[str, Any] | Response:
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

    def __init__(self, runtime: OrderIntegrationRuntime, request: Request) -> None:
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
            child(INBOUND, "order_integration", "invalid").inc()
            return invalid(validation_errors(exc))
        store = self.runtime.store
        expires = datetime.now(UTC) + timedelta(seconds=self.runtime.settings.server.hold_ttl)
        expires_at = iso(expires)  # the stored expiry and the answer's, formatted once
        event = Event("order_integration", "hold", f"oi:hold:{req.global_id}", compact(data),
                      global_id=req.global_id)
        existing = await store.begin_hold(event, req.remote_id, req.quantity,
                                          str(req.price) if req.price is not None else None,
                                          req.ticket_group_id, expires_at)
        if existing is not None:
            child(INBOUND, "order_integration", "duplicate").inc()
            return self._replay(req, existing)
        child(INBOUND, "order_integration", "recorded").inc()
        status, body, state, hold_id, reason, release = await self._hold_in_pos(req, expires, expires_at)
        child(HOLDS_ANSWERED, {200: "held", 409: "unavailable"}.get(status, "error")).inc()
        text = compact(body)
        final = await store.finish_hold(req.global_id, state, status, text, hold_id=hold_id, reason=reason,
                                        release_in_pos=release)
        closed = final.closed_as() if final is not None else None
        if release or closed:
            self.runtime.wake()
        log.info("oi.hold", global_id=req.global_id, remote_id=req.remote_id, quantity=req.quantity, status=status,
                 reason=reason, pos_hold_id=hold_id, closed=closed, ms=round((time.monotonic() - self.started) * 1000, 1))
        if final is not None and closed is not None:  # TEvo released it while the POS was holding
            return json_response(409, hold_closed(final, closed))
        return json_response(status, text)

    def _replay(self, req: HoldRequest, existing: HoldRow) -> Response:
        if existing.remote_id != req.remote_id or existing.quantity != req.quantity:
            return invalid({"global_id": ["already used for a different hold"]})
        closed = existing.closed_as()
        if closed is not None:
            # The stored "held" is no longer true; begin_hold audited this repeat (and expired the hold if
            # its TTL had passed: its release job is queued).
            self.runtime.wake()
            log.info("oi.hold_closed", global_id=req.global_id, state=closed)
            return json_response(409, hold_closed(existing, closed))
        if existing.response is None:
            # The first request is still with the POS: answer "no" for now, TEvo may ask again.
            return json_response(503, {"status": "error", "global_id": req.global_id, "reason": "in_progress"})
        return json_response(existing.status or 200, existing.response)

    async def _hold_in_pos(self, req: HoldRequest, expires: datetime, expires_at: str,
                           ) -> tuple[int, dict[str, Any], str, str | None, str | None, bool]:
        """``expires_at``: ``expires`` as stored and answered (``iso``), for the answer's body."""
        hold = pos.Hold(global_id=req.global_id, remote_id=req.remote_id, quantity=req.quantity, price=req.price,
                        ticket_group_id=req.ticket_group_id, expires_at=expires)
        host = self.runtime.pos
        try:
            # One POS call: by the hook contract pos_hold also refuses a price below what the seller takes.
            # On the intake's own hook threads: never queued behind the workers' jobs' hooks.
            result = await host.hold(hold, budget=self._remaining(), intake=True)
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
                "remote_id": req.remote_id, "quantity": req.quantity, "expires_at": expires_at}
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


def hold_closed(hold: HoldRow, closed: str) -> dict[str, Any]:
    """The answer to a repeated hold whose tickets are no longer held for it: TEvo must not take the stored
    "held" as still true, and a new hold needs a new global_id (this one's answers are final)."""
    free_again = "it holds no tickets any more; hold again under a new global_id"
    detail = {
        "released": f"TEvo released this hold: {free_again}",
        "expired": f"this hold expired at {hold.expires_at} without an invoice: {free_again}",
        "invoiced": "this hold was invoiced" + (f" as order {hold.order_id}" if hold.order_id else "")
                    + ": its tickets are sold",
    }[closed]
    return {"status": "conflict", "global_id": hold.global_id, "reason": "hold_closed", "state": closed,
            "detail": detail}


# Release ---------------------------------------------------------------------------------


async def release_call(runtime: OrderIntegrationRuntime, request: Request, path_global_id: str) -> Response:
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
    child(INBOUND, "order_integration", "recorded").inc()
    if before is not None and before.state == "invoiced":
        return json_response(409, {"status": "conflict", "global_id": req.global_id, "reason": "already_invoiced"})
    if before is not None and before.state in ("held", "pending"):
        runtime.wake()
        return json_response(200, {"status": "released", "global_id": req.global_id})
    log.info("oi.release_not_held", global_id=req.global_id, state=before.state if before else None)
    return json_response(200, {"status": "not_held", "global_id": req.global_id})


# Invoice ---------------------------------------------------------------------------------


async def invoice_call(runtime: OrderIntegrationRuntime, request: Request) -> Response:
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
        child(INBOUND, "order_integration", "recorded").inc()
        runtime.wake(1)  # the order's one job
    status, body, review = await _invoice_answer(runtime, req, hold)
    if review is None:
        await runtime.store.set_oi_invoice_response(req.global_id, status, compact(body))
    else:
        log.warning("oi.invoice_order_not_found", order_id=req.order_id, global_id=req.global_id)
        await runtime.store.refuse_oi_invoice(req.global_id, status, compact(body), review)
    stored = await runtime.store.get_oi_invoice(req.global_id)
    if stored is None or stored.response is None:  # the row just written is gone (pruned): answer ours
        return json_response(status, body)
    return json_response(stored.status or status, stored.response)


async def _invoice_answer(runtime: OrderIntegrationRuntime, req: InvoiceRequest, hold: HoldRow | None
                          ) -> tuple[int, dict[str, Any], str | None]:
    """The answer, and the order's review reason when TEvo has no such order.

    The invoice is recorded (and its job queued) before anything else, so the answer waits on the
    pipeline rather than asking TEvo itself: the job re-fetches the order and invoices it, and TEvo
    likes a final answer, so the call waits up to ``invoice_budget`` for that.  Only if the job hands
    the order to a person within the budget does this call ask TEvo once whether the order exists: a
    404 is then answered ``order_not_found`` and becomes the order's review reason, naming the hold.
    That costs TEvo no second fetch of every order, and a crash at any point leaves the invoice
    recorded.  The price: when the pipeline is slower than the budget the answer is "queued", and the
    operator sees only the pipeline's own reason ("TEvo has no order N").
    """
    deadline = time.monotonic() + runtime.settings.server.invoice_budget
    order = await _settled_order(runtime, req.order_id, deadline)
    if order is not None and order.invoice_id:
        return 200, {"status": "invoiced", "order_id": req.order_id, "global_id": req.global_id,
                     "invoice_id": order.invoice_id}, None
    if order is not None and order.state == "needs_review" and await _tevo_lacks(runtime, req.order_id, deadline):
        detail = f"TEvo has no order {req.order_id}: nothing was invoiced"
        return 409, {"status": "conflict", "order_id": req.order_id, "global_id": req.global_id,
                     "reason": "order_not_found", "detail": detail}, _missing_order_reason(req, hold)
    body: dict[str, Any] = {"status": "queued", "order_id": req.order_id, "global_id": req.global_id}
    if hold is None:
        body["warning"] = "unknown_hold"
    return runtime.settings.server.order_integration.queued_status, body, None


#: Between wake-ups, how often the invoice call reads its order anyway. The write that settles it wakes the call
#: (store/watch.py), so this only finds a settle this process did not hear of (on SQLite, a write by the CLI).
#: Reading every 20 ms ×1.5 up to 100 ms instead was ~1.5 of the drain's 17 store calls per order.
SETTLED_FALLBACK = 0.5


async def _settled_order(runtime: OrderIntegrationRuntime, order_id: int, deadline: float) -> OrderRow | None:
    """The order once invoiced or handed to a person, else as it stands at the deadline: read at the start, when
    a settling write wakes the call, every ``SETTLED_FALLBACK`` seconds, and at the deadline."""
    with runtime.store.watch.watching(order_id) as woken:
        while True:
            woken.clear()  # before the read: a write committed from here on wakes the wait below
            order = await runtime.store.get_order(order_id)
            left = deadline - time.monotonic()
            if is_settled(order) or left <= 0:
                return order
            await woken_within(woken, min(SETTLED_FALLBACK, left))


async def _tevo_lacks(runtime: OrderIntegrationRuntime, order_id: int, deadline: float) -> bool:
    """True only on TEvo's 404: an error or a slow answer proves nothing, and then the answer stays "queued"."""
    timeout = max(CONFIRM_TIMEOUT, deadline - time.monotonic())
    try:
        await asyncio.wait_for(runtime.tevo.get_order(order_id), timeout)
    except NotFound:
        return True
    except (TevoError, TimeoutError):
        return False
    return False


def _missing_order_reason(req: InvoiceRequest, hold: HoldRow | None) -> str:
    tie = (f"hold {req.global_id} ({hold.quantity} x {hold.remote_id}), which is left to be released or to expire"
           if hold is not None else f"global id {req.global_id}, which names no hold here")
    return (f"TEvo has no order {req.order_id} (Orders / Show answers 404), yet Order Integration asked to invoice "
            f"it for {tie}. Nothing was invoiced. Ask TEvo which order that checkout became; if TEvo later shows "
            f"order {req.order_id}, run `tevo-bridge orders retry {req.order_id}`.")
