"""The signed TEvo API as an ASGI app, plus the unsigned ``/_sandbox`` inspection routes.

Handlers stay thin: verify the signature over the exact bytes received, parse
the body, hand it to ``rules``, record the call for inspection.  Faults wrap
the whole app (``faults.FaultMiddleware``) but skip ``/_sandbox``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tevo_bridge.pos.inventory import CSV_COLUMNS
from tevo_bridge.sandbox import inspection, rules
from tevo_bridge.sandbox.driver import CANCELED_STATES
from tevo_bridge.sandbox.errors import (
    BAD_SIGNATURE_BODY,
    METHOD_NOT_ALLOWED_BODY,
    SERVER_ERROR_BODY,
    UNAUTHORIZED_BODY,
    UNKNOWN_ROUTE_BODY,
    TevoApiError,
    not_found,
)
from tevo_bridge.sandbox.faults import FaultInjector, FaultMiddleware
from tevo_bridge.sandbox.pos_export import PosInventoryExport
from tevo_bridge.sandbox.responses import TevoJSON
from tevo_bridge.sandbox.scenarios import InventoryExhausted
from tevo_bridge.sandbox.signature import SignedRequest, Verdict, verify
from tevo_bridge.sandbox.state import World

Action = Callable[[World, dict[str, Any], dict[str, Any]], Any]
CreateHook = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
#: Cancels order ``id`` with TEvo's ``state`` and ``reason`` and announces it; answers the order.
CancelHook = Callable[[int, str, str | None], Awaitable[dict[str, Any]]]
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
log = structlog.get_logger(__name__)


def create_app(
    world: World,
    token: str,
    secret: str,
    injector: FaultInjector | None = None,
    signed_host: str | None = None,
    create_hook: CreateHook | None = None,
    raw_airbill: bool = False,
    pos_inventory: PosInventoryExport | None = None,
    cancel_hook: CancelHook | None = None,
) -> Any:
    """The sandbox's ASGI app.  ``create_hook`` backs ``POST /_sandbox/orders`` when a driver is attached.

    ``raw_airbill`` answers Get Airbill with PDF bytes instead of TEvo's JSON, so a client can be
    tried against both forms (§5.4 leaves the format open). ``pos_inventory`` backs
    ``GET /_sandbox/inventory``: the listings as a POS import CSV, so a seller's POS can hold them.
    ``cancel_hook`` backs ``POST /_sandbox/orders/{id}/cancel``: TEvo canceling the order, announced by webhook.
    """

    def signed(action: Action) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw_body = await request.body()
            verdict = verify(
                SignedRequest(
                    method=request.method,
                    host_header=request.headers.get("host", ""),
                    raw_path=request.scope.get("raw_path") or request.scope["path"].encode(),
                    raw_query=request.scope.get("query_string", b""),
                    body=raw_body,
                    token=request.headers.get("x-token"),
                    signature=request.headers.get("x-signature"),
                ),
                token, secret, signed_host,
            )
            params = dict(request.path_params)
            order_id = _order_id_for(world, params)
            if verdict is Verdict.BAD_TOKEN:
                response: Response = TevoJSON(UNAUTHORIZED_BODY, status_code=401)
            elif verdict is Verdict.BAD_SIGNATURE:
                response = TevoJSON(BAD_SIGNATURE_BODY, status_code=401)
            else:
                response = _run(action, params, raw_body, request)
            world.record_call(order_id, request.method, request.url.path, response.status_code)
            return response

        return endpoint

    def _run(action: Action, params: dict[str, Any], raw_body: bytes, request: Request) -> Response:
        try:
            body = json.loads(raw_body) if raw_body else {}
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return TevoJSON(rules.error_for_bad_json().body, status_code=400)
        params = {**params, "_query": dict(request.query_params)}
        try:
            result = action(world, params, body)
        except TevoApiError as exc:
            return TevoJSON(exc.body, status_code=exc.status)
        except Exception:  # a sandbox bug must still look like TEvo's 500, and be visible
            log.exception("sandbox handler failed", path=request.url.path)
            return TevoJSON(SERVER_ERROR_BODY, status_code=500)
        if isinstance(result, bytes):
            return Response(result, media_type="application/pdf")
        return TevoJSON(result)

    def v9(path: str, action: Action, methods: list[str]) -> Route:
        return Route("/v9" + path, signed(action), methods=methods)

    async def sandbox_orders(request: Request) -> Response:
        if request.method == "POST":
            if create_hook is None:
                return TevoJSON({"error": "no buyer driver is attached to this sandbox"}, status_code=409)
            try:
                body = json.loads(await request.body())
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return TevoJSON({"error": 'the body must be a JSON object such as {"scenario": "fedex"}'},
                                status_code=400)
            try:
                created = await create_hook(body)
            except InventoryExhausted as exc:
                # Not the caller's mistake: the listings the buyers can buy from have run out.
                return TevoJSON({"error": f"the sandbox's inventory is used up: {exc}"}, status_code=409)
            except (ValueError, KeyError) as exc:
                return TevoJSON({"error": str(exc)}, status_code=422)
            return TevoJSON(created, status_code=201)
        return TevoJSON({"orders": inspection.summary(world)})

    async def sandbox_order(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        try:
            view = inspection.inspect_order(world, order_id)
        except KeyError:
            missing = not_found("Order", order_id)
            return TevoJSON(missing.body, status_code=missing.status)
        for item_id in view["items"]:
            view["items"][item_id]["page_texts"] = inspection.delivered_page_texts(world, item_id)
        return TevoJSON(view)

    async def sandbox_cancel(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        if cancel_hook is None:
            return TevoJSON({"error": "no buyer driver is attached to this sandbox"}, status_code=409)
        body = await _cancel_body(request)
        if isinstance(body, Response):
            return body
        try:
            order = await cancel_hook(order_id, body.get("state", "canceled"), body.get("reason"))
        except KeyError:
            missing = not_found("Order", order_id)
            return TevoJSON(missing.body, status_code=missing.status)
        except ValueError as exc:
            return TevoJSON({"error": str(exc)}, status_code=409)
        return TevoJSON({"id": order["id"], "seller_state": order["seller_state"],
                         "buyer_cancellation_reason": order.get("buyer_cancellation_reason")})

    async def sandbox_faults(request: Request) -> Response:
        return TevoJSON(injector.summary() if injector else {"settings": None, "counts": {}, "log": []})

    async def sandbox_inventory(request: Request) -> Response:
        if pos_inventory is None:
            return TevoJSON({"error": "this sandbox exports no POS inventory"}, status_code=404)
        wants_csv = request.query_params.get("format") == "csv" or "text/csv" in request.headers.get("accept", "")
        if wants_csv:
            return Response(pos_inventory.csv_text(), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="inventory.csv"'})
        return TevoJSON({"columns": list(CSV_COLUMNS), "ticket_groups": [r.to_csv() for r in pos_inventory.rows()]})

    async def sandbox_health(request: Request) -> Response:
        return TevoJSON({"status": "ok", "orders": len(world.orders)})

    routes = [
        v9("/orders", lambda w, p, b: rules.list_orders(w, p["_query"]), ["GET"]),
        v9("/orders/{order_id:int}", lambda w, p, b: rules.show_order(w, p["order_id"]), ["GET"]),
        v9("/orders/{order_id:int}/accept", lambda w, p, b: rules.accept_order(w, p["order_id"], b), ["POST"]),
        v9("/orders/{order_id:int}/reject", lambda w, p, b: rules.reject_order(w, p["order_id"], b), ["POST"]),
        v9("/orders/{order_id:int}/complete", lambda w, p, b: rules.complete_order(w, p["order_id"]), ["POST"]),
        v9("/orders/{order_id:int}/items", lambda w, p, b: rules.list_items(w, p["order_id"]), ["GET"]),
        v9("/orders/{order_id:int}/items/{item_id:int}",
           lambda w, p, b: rules.show_item(w, p["order_id"], p["item_id"]), ["GET"]),
        v9("/orders/{order_id:int}/items/{item_id:int}/add_etickets",
           lambda w, p, b: rules.add_etickets(w, p["order_id"], p["item_id"], b), ["POST"]),
        v9("/orders/{order_id:int}/items/{item_id:int}/finalize_etickets",
           lambda w, p, b: rules.finalize_etickets(w, p["order_id"], p["item_id"], b), ["POST"]),
        # remove_etickets really is a GET that changes state (§4).
        v9("/orders/{order_id:int}/items/{item_id:int}/remove_etickets",
           lambda w, p, b: rules.remove_etickets(w, p["order_id"], p["item_id"]), ["GET"]),
        v9("/orders/{order_id:int}/deliver_etickets",
           lambda w, p, b: rules.deliver_etickets(w, p["order_id"], b), ["POST"]),
        v9("/shipments/{shipment_id:int}", lambda w, p, b: rules.show_shipment(w, p["shipment_id"]), ["GET"]),
        v9("/shipments/{shipment_id:int}",
           lambda w, p, b: rules.update_shipment(w, p["shipment_id"], b), ["PUT"]),
        # The wiki says "PUT / POST" for complete (§5.2); both are served.
        v9("/shipments/{shipment_id:int}/complete",
           lambda w, p, b: rules.complete_shipment(w, p["shipment_id"], b), ["PUT", "POST"]),
        v9("/shipments/{shipment_id:int}/airbill",
           lambda w, p, b: rules.generate_airbill(w, p["shipment_id"]), ["POST"]),
        v9("/shipments/{shipment_id:int}/get_airbill",
           lambda w, p, b: (rules.airbill_pdf if raw_airbill else rules.airbill_json)(w, p["shipment_id"]),
           ["GET"]),
        v9("/users/{user_id:int}", lambda w, p, b: rules.show_user(w, p["user_id"]), ["GET"]),
        v9("/{rest:path}", _not_found, ALL_METHODS),
        Route("/_sandbox/orders", sandbox_orders, methods=["GET", "POST"]),
        Route("/_sandbox/orders/{order_id:int}", sandbox_order, methods=["GET"]),
        Route("/_sandbox/orders/{order_id:int}/cancel", sandbox_cancel, methods=["POST"]),
        Route("/_sandbox/faults", sandbox_faults, methods=["GET"]),
        Route("/_sandbox/health", sandbox_health, methods=["GET"]),
        Route("/_sandbox/inventory", sandbox_inventory, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _unrouted})
    return FaultMiddleware(app, injector) if injector is not None else app


async def _cancel_body(request: Request) -> dict[str, Any] | Response:
    """The optional ``{"reason": "...", "state": "canceled"}`` of a cancel; a 400 naming the field otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return TevoJSON({"error": 'the body must be empty or a JSON object such as {"reason": "event postponed"}'},
                        status_code=400)
    unknown = sorted(set(body) - {"reason", "state"})
    if unknown:
        return TevoJSON({"error": f"unknown field(s) {', '.join(unknown)}: a cancel takes only reason and state"},
                        status_code=400)
    for key in ("reason", "state"):
        if key in body and not isinstance(body[key], str):
            return TevoJSON({"error": f"{key} must be a string"}, status_code=400)
    if body.get("state", "canceled") not in CANCELED_STATES:
        return TevoJSON({"error": f"state must be one of {', '.join(CANCELED_STATES)}, not {body['state']!r}"},
                        status_code=422)
    return body


def _not_found(world: World, params: dict[str, Any], body: dict[str, Any]) -> Any:
    raise TevoApiError(404, dict(UNKNOWN_ROUTE_BODY))


async def _unrouted(request: Request, exc: Exception) -> Response:
    """Paths outside ``/v9`` that no route serves answer TEvo's JSON too, never Starlette's plain text."""
    status: int = getattr(exc, "status_code", 500)
    body = {404: UNKNOWN_ROUTE_BODY, 405: METHOD_NOT_ALLOWED_BODY}.get(status, SERVER_ERROR_BODY)
    return TevoJSON(dict(body), status_code=status, headers=getattr(exc, "headers", None))


def _order_id_for(world: World, params: dict[str, Any]) -> int | None:
    """Which order a call concerns, so inspection can list it; shipments are followed across replacement."""
    if "order_id" in params:
        return int(params["order_id"])
    if "shipment_id" in params:
        shipment_id = int(params["shipment_id"])
        with world.lock:
            while shipment_id in world.replaced_shipments:
                shipment_id = world.replaced_shipments[shipment_id]
            found = world.find_shipment(shipment_id)
            return found[0]["id"] if found else None
    return None
