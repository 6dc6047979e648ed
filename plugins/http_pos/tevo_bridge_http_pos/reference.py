"""A reference server of the POS API (openapi.yaml): SQLite behind it, one transaction per request.

It is what the plugin's tests run against on a real loopback port, and a working example for a broker who
implements the API in another language. It also has fault knobs (``Faults``) for those tests: answer late, be
down, or apply a write and drop its answer (the lost answer, which the plugin must retry with the same key).

Run it::

    HTTP_POS_TOKEN=... python -m tevo_bridge_http_pos.reference --db pos.sqlite3 --port 8765 [--inventory inv.csv]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tevo_bridge.pos.errors import TicketFileUnreadable
from tevo_bridge.pos.inventory import InventoryRow, read_inventory_csv
from tevo_bridge.pos.types import Item
from tevo_bridge.sandbox.server import BackgroundServer
from tevo_bridge_http_pos.reference_store import ReferenceStore, Refused
from tevo_bridge_http_pos.wire import CustomerRequest, HoldRequest, InvoiceRequest, VoidRequest

__all__ = ["Exchange", "Faults", "RunningReference", "create_app", "main", "openapi_text", "running"]

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]
log = logging.getLogger(__name__)
TOKEN_VARIABLE = "HTTP_POS_TOKEN"
MAX_ID = 2**63 - 1


def openapi_text() -> str:
    """The API's OpenAPI document, as shipped in the package."""
    return resources.files("tevo_bridge_http_pos").joinpath("openapi.yaml").read_text(encoding="utf-8")


@dataclass
class Faults:
    """What the server does wrong, changeable while it runs (tests flip them between calls)."""

    #: Seconds every request waits before it is handled: a POS slower than the hook's deadline.
    delay: float = 0.0
    #: Answer every request ``503 unavailable``: a POS that is up but not working.
    down: bool = False
    #: Apply each write, then drop its first answer (the connection closes mid-answer): the lost answer.
    #: Per endpoint and Idempotency-Key, so the retry with the same key is answered.
    lose_first_answers: bool = False
    #: Give ticket files as URLs on this server instead of inline base64.
    files_as_urls: bool = False
    #: Refuse every void with this reason (``409 void_refused``).
    refuse_voids: str | None = None
    lost: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class Exchange:
    """One request the server handled and the answer it gave (or would have given, when the answer was lost)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int
    answer: bytes


def _error(status: int, code: str, message: str, details: dict[str, object] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or {}}}, status)


def _refused(exc: Refused) -> JSONResponse:
    return _error(exc.status, exc.code, exc.message, exc.details)


def _field(error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}"


async def _body(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise Refused(400, "bad_request", f"request body {_field(exc)}") from None


def _key(request: Request, expected: str) -> None:
    """Writes must carry their natural key: a missing or different one is a client bug, refused before any write."""
    key = request.headers.get("idempotency-key")
    if key is None:
        raise Refused(400, "bad_request", "the Idempotency-Key header is required on this write")
    if key != expected:
        raise Refused(400, "bad_request", f"Idempotency-Key {key!r} does not match this request's key {expected!r}")


def _tevo_id(value: object, name: str) -> int:
    """A TEvo id or count from a path or query, refused unless it is a whole number from 1 to 2**63 - 1."""
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_ID:
        raise Refused(400, "bad_request", f"{name} must be a whole number from 1 to {MAX_ID}, got {str(value)[:40]!r}")
    return number


def _query_int(request: Request, name: str) -> int:
    return _tevo_id(request.query_params.get(name, ""), f"query parameter {name!r}")


def _handled(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as exc:
            return _refused(exc)
        except Exception:  # a bug here still answers in the API's shape; the detail stays in this server's log
            log.exception("reference POS: %s %s failed", request.method, request.url.path)
            return _error(500, "internal", "the POS failed to handle this request; see its log")

    return run


class Api:
    """The endpoints of openapi.yaml over a ``ReferenceStore``."""

    def __init__(self, store: ReferenceStore, faults: Faults) -> None:
        self.store, self.faults = store, faults

    def routes(self) -> list[Route]:
        def route(path: str, handler: Handler, method: str) -> Route:
            return Route(path, _handled(handler), methods=[method])

        return [
            route("/health", self.health, "GET"),
            route("/listings/{remote_id}/availability", self.availability, "GET"),
            route("/listings/{remote_id}/price-check", self.price_check, "GET"),
            route("/listings/{remote_id}/ticket-files", self.ticket_files, "GET"),
            route("/customers/{buyer_id}", self.find_customer, "GET"),
            route("/customers", self.create_customer, "POST"),
            route("/holds", self.hold, "POST"),
            route("/holds/{global_id}/release", self.release, "POST"),
            route("/invoices", self.invoice, "POST"),
            route("/invoices/{invoice_id}/void", self.void, "POST"),
            route("/files/{remote_id}", self.file, "GET"),  # where files_as_urls points: the POS's own, not the API
            Route("/openapi.yaml", self.openapi, methods=["GET"]),
        ]

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def availability(self, request: Request) -> Response:
        remote_id = request.path_params["remote_id"]
        _, available, _ = self.store.listing(remote_id)
        return JSONResponse({"remote_id": remote_id, "available": available})

    async def price_check(self, request: Request) -> Response:
        row, _, _ = self.store.listing(request.path_params["remote_id"])
        try:
            price = Decimal(request.query_params["price"])
        except (KeyError, InvalidOperation):
            raise Refused(400, "bad_request", "query parameter 'price' must be a decimal string") from None
        decision = row.price_decision(price)
        return JSONResponse({"acceptable": decision.acceptable, "reason": decision.reason})

    async def ticket_files(self, request: Request) -> Response:
        remote_id = request.path_params["remote_id"]
        row, _, ready = self.store.listing(remote_id)
        if not ready:
            raise Refused(409, "not_ready", f"the tickets of {remote_id} are not in hand yet", {"remote_id": remote_id})
        item = Item(_query_int(request, "order_id"), _query_int(request, "item_id"), remote_id,
                    _query_int(request, "quantity"), Decimal(0), tuple(request.query_params.getlist("seat")))
        try:
            files = row.ticket_files(item, self.store.path.parent)
        except TicketFileUnreadable as exc:
            raise Refused(422, "file_unreadable", exc.reason, {"path": str(exc.path)}) from None
        except LookupError as exc:
            raise Refused(400, "bad_request", str(exc)) from None
        bodies = [self._file_body(request, remote_id, f.name, f.pdf, dict(f.seat_pages)) for f in files or []]
        return JSONResponse({"files": bodies})

    def _file_body(self, request: Request, remote_id: str, name: str, pdf: bytes, pages: dict[str, int],
                   ) -> dict[str, object]:
        if self.faults.files_as_urls:
            return {"name": name, "seat_pages": pages, "url": f"{request.base_url}files/{quote(remote_id, safe='')}"}
        return {"name": name, "seat_pages": pages, "pdf_base64": base64.b64encode(pdf).decode("ascii")}

    async def file(self, request: Request) -> Response:
        row, _, _ = self.store.listing(request.path_params["remote_id"])
        path = row.pdf_path(self.store.path.parent)
        if path is None or not path.is_file():
            raise Refused(404, "file_unreadable", "no file", {"remote_id": row.remote_id})
        return Response(path.read_bytes(), media_type="application/pdf")

    async def find_customer(self, request: Request) -> Response:
        buyer_id = _tevo_id(request.path_params["buyer_id"], "buyer_id")
        found = self.store.customer(buyer_id)
        if found is None:
            raise Refused(404, "unknown_customer", f"no customer for TEvo buyer {buyer_id}", {"buyer_id": buyer_id})
        return JSONResponse({"id": found[0], "name": found[1]})

    async def create_customer(self, request: Request) -> Response:
        body = await _body(request, CustomerRequest)
        _key(request, str(body.buyer_id))
        customer_id, name = self.store.create_customer(body)
        return JSONResponse({"id": customer_id, "name": name})

    async def hold(self, request: Request) -> Response:
        body = await _body(request, HoldRequest)
        _key(request, body.global_id)
        hold_id, available = self.store.hold(body)
        return JSONResponse({"hold_id": hold_id, "available": available})

    async def release(self, request: Request) -> Response:
        global_id = request.path_params["global_id"]
        _key(request, global_id)
        return JSONResponse({"released": self.store.release(global_id)})

    async def invoice(self, request: Request) -> Response:
        body = await _body(request, InvoiceRequest)
        _key(request, str(body.order_id))
        invoice_id, created = self.store.invoice(body)
        return JSONResponse({"invoice_id": invoice_id, "created": created})

    async def void(self, request: Request) -> Response:
        invoice_id = request.path_params["invoice_id"]
        body = await _body(request, VoidRequest)
        _key(request, invoice_id)
        self.store.void(invoice_id, body.reason, self.faults.refuse_voids)
        return JSONResponse({"invoice_id": invoice_id, "voided": True})

    async def openapi(self, request: Request) -> Response:
        return Response(openapi_text(), media_type="application/yaml")


class _Auth:
    """Every endpoint but the document itself wants ``Authorization: Bearer <token>``, compared in constant time."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/openapi.yaml":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await _error(401, "unauthorized", "missing or wrong bearer token")(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Down:
    """``Faults.down``: every request answered 503 (inside the recorder, so the tests see those answers too)."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app, self.faults = app, faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.faults.down:
            await _error(503, "unavailable", "the POS is down (fault)")(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Record:
    """Tells ``observe`` of every exchange, for the tests that hold the server to openapi.yaml."""

    def __init__(self, app: ASGIApp, observe: Callable[[Exchange], None]) -> None:
        self.app, self.observe = app, observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, answer, status = bytearray(), bytearray(), [0]

        async def receiving() -> Message:
            message = await receive()
            body.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body":
                answer.extend(message.get("body", b""))
                if not message.get("more_body", False):  # before the client can see it: tests read right after
                    self.observe(Exchange(scope["method"], scope["path"], scope["query_string"].decode("latin-1"),
                                          headers, bytes(body), status[0], bytes(answer)))
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        await self.app(scope, receiving, sending)


class _Faults:
    """The fault knobs, outermost: what a client sees of a slow, broken or forgetful POS."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app, self.faults = app, faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        key = dict(scope["headers"]).get(b"idempotency-key", b"").decode("latin-1")
        lost = (scope["path"], key)
        if self.faults.lose_first_answers and scope["method"] == "POST" and key and lost not in self.faults.lost:
            self.faults.lost.add(lost)

            async def swallow(message: Message) -> None:
                pass

            await self.app(scope, receive, swallow)  # the write happens...
            # ...and its answer is cut off: a start promising a body that never comes; uvicorn then closes the
            # connection, and the client sees it dropped mid-answer.
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})
            return
        await self.app(scope, receive, send)


async def _not_found(request: Request, exc: Exception) -> Response:
    """A path outside the API still gets the API's error body."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return _error(status, "bad_request", f"{request.method} {request.url.path} is not an endpoint of this API")


def create_app(store: ReferenceStore, token: str, faults: Faults | None = None,
               observe: Callable[[Exchange], None] | None = None) -> ASGIApp:
    api = Api(store, faults or Faults())
    app: ASGIApp = Starlette(routes=api.routes(), exception_handlers={404: _not_found, 405: _not_found})
    app = _Down(_Auth(app, token), api.faults)
    if observe is not None:
        app = _Record(app, observe)
    return _Faults(app, api.faults)


@dataclass
class RunningReference:
    base_url: str
    token: str
    store: ReferenceStore
    faults: Faults
    exchanges: list[Exchange]

    def plugin_settings(self, **changes: object) -> dict[str, object]:
        """A ``[plugins.http_pos]`` table pointing at this server."""
        return {"base_url": self.base_url, "token": self.token} | changes


@contextmanager
def running(rows: Iterable[InventoryRow] = (), *, db: Path, token: str, faults: Faults | None = None,
            host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningReference]:
    """The reference server on a loopback port for a ``with`` block, seeded with ``rows``, recording exchanges."""
    store = ReferenceStore(db)
    store.seed(rows)
    exchanges: list[Exchange] = []
    faults = faults or Faults()
    server = BackgroundServer(create_app(store, token, faults, exchanges.append), host, port).start()
    try:
        yield RunningReference(server.base_url, token, store, faults, exchanges)
    finally:
        server.stop()
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tevo_bridge_http_pos.reference", description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="the SQLite file (created if missing)")
    parser.add_argument("--inventory", type=Path, help="an inventory CSV to add (columns of tevo_bridge's CSV_COLUMNS)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        sys.exit(f"set {TOKEN_VARIABLE} to the bearer token clients must send (not on the command line: ps shows it)")
    store = ReferenceStore(args.db)
    if args.inventory is not None:
        try:
            store.seed(read_inventory_csv(args.inventory, args.db.parent))
        except (OSError, ValueError) as exc:
            sys.exit(f"--inventory {args.inventory}: {exc}")
    import uvicorn

    uvicorn.run(create_app(store, token), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
