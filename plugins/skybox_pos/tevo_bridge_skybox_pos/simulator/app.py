"""The SkyBox simulator's HTTP face: SkyBox's paths, wire names, status codes and auth headers.

Only the endpoints the plugin uses are served. Search answers are shaped, paged and rate-limited
as ``SimSettings`` says, and faults (latency, 5xx, a write that happened but whose answer never
came, a whole outage) are injected before or after the state changes, like the TEvo sandbox's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tevo_bridge_skybox_pos.simulator.spec import spec
from tevo_bridge_skybox_pos.simulator.state import SimError, SimState, parse_time

__all__ = ["Credentials", "create_app"]


@dataclass(frozen=True)
class Credentials:
    account: str = "4711"
    api_token: str = "2f6d7c1e-9a41-4f0e-8d1b-5c3a9e7b2d10"
    application_token: str = "b83e5a92-1c7d-4e6f-a0b9-7d2c4e1f6a38"


def create_app(state: SimState, credentials: Credentials | None = None, seed: int = 0) -> FastAPI:
    creds = credentials or Credentials()
    app = FastAPI(title="SkyBox simulator", openapi_url=None, docs_url=None, redoc_url=None)
    rng = random.Random(seed)
    rng_lock = threading.Lock()
    windows: dict[str, deque[float]] = defaultdict(deque)

    def error(status: int, message: str, field_name: str | None = None) -> Response:
        shape = state.settings.error_body
        if status != 400 or shape == "message":
            return JSONResponse({"message": message}, status_code=status)
        if shape == "errors":
            return JSONResponse({"errors": [{"field": field_name, "message": message}]}, status_code=status)
        return PlainTextResponse(message, status_code=status)

    def chance(rate: float) -> bool:
        with rng_lock:
            return rate > 0 and rng.random() < rate

    @app.middleware("http")
    async def skybox_rules(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        faults = state.settings.faults
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if faults.outage:
            return error(503, "service unavailable")
        h = request.headers
        if h.get("x-api-token") != creds.api_token or h.get("x-application-token") != creds.application_token:
            return error(401, "not authorized")
        if h.get("x-account") != creds.account:
            # Valid tokens for another account: SkyBox finds no account to answer for.
            return error(404 if request.url.path == "/account" else 401,
                         "account not found" if request.url.path == "/account" else "not authorized")
        endpoint = f"{request.method} {_family(request.url.path)}"
        if state.settings.rate_limit:
            moment = time.monotonic()
            with rng_lock:
                window = windows[endpoint]
                while window and window[0] <= moment - state.settings.rate_interval:
                    window.popleft()
                if len(window) >= state.settings.rate_limit:
                    wait = state.settings.rate_interval - (moment - window[0])
                    headers = {"Retry-After": str(max(1, round(wait)))} if state.settings.retry_after else {}
                    state.rate_limited += 1
                    return JSONResponse({"message": "rate limit exceeded"}, status_code=429, headers=headers)
                window.append(moment)
        applies = not faults.methods or request.method in faults.methods
        if applies and chance(faults.error_rate):
            return error(rng.choice((500, 503)), "internal server error")
        with state.lock:
            state.calls.append((request.method, request.url.path))
        response = await call_next(request)
        if state.settings.spec_check:
            response = await checked(request, response)
        if applies and chance(faults.timeout_rate):
            await asyncio.sleep(faults.hang_seconds)  # the write is done; the answer comes too late
        return response

    async def checked(request: Request, response: Response) -> Response:
        """The answer, after recording where SkyBox's model for it disagrees (``state.spec_mismatches``)."""
        # call_next answers a streaming response, which Starlette types as the base Response.
        content = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]  # see above
        if response.headers.get("content-type", "").startswith("application/json") and content:
            problems = spec().response_problems(request.method, request.url.path, response.status_code,
                                                json.loads(content))
            with state.lock:
                state.spec_mismatches += problems
        return Response(content, response.status_code, dict(response.headers))

    def refused(request: Request, body: Any) -> Response | None:
        """A 400 naming each field SkyBox's model refuses, as SkyBox's own validation would answer."""
        problems = spec().request_problems(request.method, request.url.path, body)
        if not problems:
            return None
        with state.lock:
            state.refused_bodies += [f"{request.method} {request.url.path}: {p}" for p in problems]
        field_name = problems[0].partition(":")[0].partition(".")[2] or None
        return error(400, "; ".join(problems), field_name)

    def envelope(rows: list[dict[str, Any]], request: Request) -> Response:
        s = state.settings
        q = request.query_params
        limit = min(int(q.get("limit") or 50), s.max_limit)
        page = int(q.get("pageNumber") or s.first_page) - s.first_page
        chunk = rows[page * limit:(page + 1) * limit] if page >= 0 else []
        if s.envelope == "list":
            return JSONResponse(chunk)
        return JSONResponse({"rows": chunk, "rowCount": len(rows)})

    def run(action: Callable[[], Any]) -> Any:
        try:
            with state.lock:
                state.expire_holds()
                result = action()
        except SimError as exc:
            return error(exc.status, exc.message, exc.field)
        except (ValueError, TypeError, KeyError) as exc:
            return error(400, f"invalid request: {exc}")
        if isinstance(result, Response):
            return result
        return Response(status_code=200) if result is None else JSONResponse(result)

    async def body_of(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError:
            return None

    def ints(request: Request, key: str) -> list[int]:
        return [int(v) for v in request.query_params.getlist(key)]

    def flag(request: Request, key: str) -> bool:
        return request.query_params.get(key, "false").lower() == "true"

    @app.get("/account")
    def account() -> Any:
        return {"id": state.ACCOUNT_ID, "company": "Simulated Tickets LLC", "email": "broker@example.com",
                "firstName": "Sam", "lastName": "Broker", "nativeIntegrationEnabled": True,
                "accountSettings": [{"id": 1, "accountId": state.ACCOUNT_ID, "settingName": "AUTO_DELIVERY_ENABLED",
                                     "value": False}]}

    @app.get("/inventory")
    def inventory_search(request: Request) -> Any:
        def act() -> Any:
            return envelope(state.search_inventory(ints(request, "inventoryId"), ints(request, "exchangePosId"),
                                                   flag(request, "includeTickets")), request)
        return run(act)

    @app.get("/inventory/exchange_pos_id/{pos_id}")
    def pos_id_history(pos_id: int) -> Any:
        def act() -> Any:
            inventory_id = state.pos_id_history.get(pos_id)
            if inventory_id is None:
                raise SimError(state.settings.unknown_pos_id_status, f"exchange pos id {pos_id} not found",
                               "exchangePosId")
            return {"exchangePosId": pos_id, "inventoryId": inventory_id}
        return run(act)

    @app.get("/inventory/{inventory_id}")
    def inventory_get(inventory_id: int) -> Any:
        return run(lambda: state.inventory_json(state.listing(inventory_id), include_tickets=True, summary=False))

    @app.put("/inventory/{inventory_id}")
    async def inventory_put(inventory_id: int, request: Request) -> Any:
        body = await body_of(request)
        return refused(request, body) or run(lambda: state.update_inventory(inventory_id, body))

    @app.get("/inventory/{inventory_id}/hold")
    def inventory_hold(inventory_id: int) -> Any:
        return run(lambda: next((state.hold_json(h) for h in state.live_holds() if h.inventory_id == inventory_id),
                                None))

    @app.delete("/inventory/{inventory_id}/hold")
    def inventory_hold_delete(inventory_id: int) -> Any:
        return run(lambda: state.delete_listing_holds(inventory_id))

    async def create(request: Request, model: str, action: Callable[[dict[str, Any]], Any]) -> Any:
        body = await body_of(request)
        if not isinstance(body, dict):
            return error(400, f"body must be a {model} object")
        return refused(request, body) or run(lambda: action(body))

    @app.post("/holds")
    async def hold_create(request: Request) -> Any:
        return await create(request, "HoldRequest", state.create_hold)

    @app.get("/holds")
    def hold_search(request: Request) -> Any:
        q = request.query_params

        def act() -> Any:
            expiry_to = parse_time(q["expiryDateTo"], "expiryDateTo") if q.get("expiryDateTo") else None
            expiry_from = parse_time(q["expiryDateFrom"], "expiryDateFrom") if q.get("expiryDateFrom") else None
            return envelope(state.search_holds(
                refs=q.getlist("externalRef"), inventory_id=int(q["inventoryId"]) if q.get("inventoryId") else None,
                hold_id=int(q["id"]) if q.get("id") else None, expiry_to=expiry_to, expiry_from=expiry_from), request)
        return run(act)

    @app.get("/holds/{hold_id}")
    def hold_get(hold_id: int) -> Any:
        return run(lambda: state.hold_json(_one(state.holds, hold_id, "hold")))

    @app.delete("/holds/{hold_id}")
    def hold_delete(hold_id: int) -> Any:
        refused_status = state.settings.faults.delete_hold_status
        if refused_status:  # SkyBox's spec declares only 200 and 401 here; anything else is possible live
            return error(refused_status, f"hold {hold_id} cannot be deleted")
        return run(lambda: state.delete_hold(hold_id))

    @app.get("/customers/defaults")
    def customer_defaults() -> Any:
        return run(lambda: list(state.defaults))

    @app.get("/customers")
    def customer_search(request: Request) -> Any:
        q = request.query_params
        return run(lambda: envelope(state.search_customers(q.get("email"), q.get("displayName")), request))

    @app.post("/customers")
    async def customer_create(request: Request) -> Any:
        return await create(request, "Customer", state.create_customer)

    @app.get("/customers/{customer_id}")
    def customer_get(customer_id: int) -> Any:
        return run(lambda: _one(state.customers, customer_id, "customer"))

    @app.post("/invoices")
    async def invoice_create(request: Request) -> Any:
        return await create(request, "Invoice", lambda body: state.create_invoice(body, flag(request, "force")))

    @app.get("/invoices")
    def invoice_search(request: Request) -> Any:
        return run(lambda: envelope(state.search_invoices(request.query_params.getlist("externalRef")), request))

    @app.get("/invoices/{invoice_id}")
    def invoice_get(invoice_id: int) -> Any:
        return run(lambda: state.invoice_json(state.invoice(invoice_id)))

    @app.put("/invoices/{invoice_id}")
    async def invoice_update(invoice_id: int, request: Request) -> Any:
        return await create(request, "Invoice", lambda body: state.update_invoice(invoice_id, body))

    @app.get("/invoices/{invoice_id}/lines")
    def invoice_lines(invoice_id: int) -> Any:
        return run(lambda: state.invoice(invoice_id).lines)

    @app.delete("/invoices/{invoice_id}/lines/{line_id}")
    def invoice_line_delete(invoice_id: int, line_id: int) -> Any:
        return run(lambda: state.delete_invoice_line(invoice_id, line_id))

    @app.get("/invoices/{invoice_id}/lines/{line_id}/tickets")
    def invoice_line_tickets(invoice_id: int, line_id: int) -> Any:
        def act() -> Any:
            tickets = state.line_tickets(invoice_id, line_id)
            return tickets if state.settings.line_tickets == "list" else tickets[0]
        return run(act)

    @app.get("/assets/{file_name}")
    def asset(file_name: str) -> Any:
        def act() -> Any:
            pdf = state.assets.get(file_name)
            if pdf is None:
                raise SimError(404, f"file {file_name} not found")
            text = base64.b64encode(pdf).decode()
            if state.settings.asset_encoding == "json":
                return JSONResponse(text)
            return PlainTextResponse(text)
        return run(act)

    return app


def _one(table: dict[int, Any], key: int, what: str) -> Any:
    if key not in table:
        raise SimError(404, f"{what} {key} not found")
    return table[key]


def _family(path: str) -> str:
    """The rate-limit bucket of a path: its first segment, ids left out (``/holds/12`` counts as ``/holds``)."""
    parts = [p for p in path.split("/") if p]
    return "/" + (parts[0] if parts else "")
