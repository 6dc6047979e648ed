"""The intake's hot path: PlainRoute, HotPaths and OneWrite answer exactly as the FastAPI stack did.

The integration suites (test_order_integration, test_webhooks_and_health, test_hostile_boundaries) check the
real routes' bodies byte for byte; here the pieces are checked on their own, on a real uvicorn server on
loopback speaking through the daemon's guarded protocol, on each of uvicorn's HTTP parsers.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, HTTPException, Request
from starlette.responses import Response, StreamingResponse

from tevo_bridge.connections import ConnectionLimits, OneWrite, guarded_protocol
from tevo_bridge.httpparser import HttpParser
from tevo_bridge.intake.app import add_error_handlers, crashed
from tevo_bridge.intake.hotpath import HotPaths, hot, plain_routes
from tevo_bridge.intake.http import BodyTooLarge, json_response
from tevo_bridge.intake.routing import PlainRoute
from tevo_bridge.serve import free_port
from tevo_bridge.store import StoreError

CALLS: list[str] = []
SLOW = 1.5  # seconds the "slow" thing takes: longer than the body deadline of the pipelining test


def make_app() -> FastAPI:
    router = APIRouter(route_class=PlainRoute)

    @router.post("/things/{name}")
    async def thing(request: Request, name: str) -> Response:
        CALLS.append(name)
        body = await request.body()
        if name == "store-down":
            raise StoreError("the disk is full")
        if name == "too-large":
            raise BodyTooLarge(10)
        if name == "bug":
            raise RuntimeError("a bug")
        if name == "slow":
            await asyncio.sleep(SLOW)
        if name == "teapot":
            raise HTTPException(418)
        if name == "half":  # a handled exception once the answer has begun: nothing complete can follow
            async def broken() -> Any:
                yield b"begun"
                raise StoreError("the disk is full")
            return StreamingResponse(broken(), media_type="text/plain")
        return json_response(200, {"status": "ok", "name": name, "bytes": len(body),
                                   "route": request.scope["route"].path})

    app = FastAPI(openapi_url="/openapi.json")
    app.include_router(router)

    @app.get("/stream")
    async def stream() -> Response:
        async def chunks() -> Any:
            yield b"one"
            yield b"two"
        return StreamingResponse(chunks(), media_type="text/plain")

    add_error_handlers(app)
    return app


PARSERS: list[HttpParser] = ["httptools", "h11"]


@contextmanager
def served(app: Any, parser: HttpParser, body_timeout: float = 5.0) -> Iterator[int]:
    port = free_port()
    limits = ConnectionLimits(header_timeout=5.0, body_timeout=body_timeout, max_connections=16, listener="test")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off",
                            http=guarded_protocol(limits, parser))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


class Wire:
    """One keep-alive connection, requests written and answers read by hand (Content-Length or chunked)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        self.sock.sendall(head + body)
        raw = self._until(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            return status, headers, self._exactly(int(headers["content-length"]))
        data = b""
        while (size := int(self._until(b"\r\n").strip(), 16)) > 0:
            data += self._exactly(size)
            self._exactly(2)
        self._exactly(2)
        return status, headers, data

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self.buffer += chunk
        found, _, self.buffer = self.buffer.partition(marker)
        return found + marker

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self.buffer += chunk
        found, self.buffer = self.buffer[:size], self.buffer[size:]
        return found

    def close(self) -> None:
        self.sock.close()


def answers(app: Any, parser: HttpParser) -> list[tuple[int, bytes]]:
    got = []
    with served(app, parser) as port:
        wire = Wire(port)
        try:
            for name in ("fine", "store-down", "bug", "fine"):
                status, _, body = wire.request("POST", f"/things/{name}", b'{"x":1}')
                got.append((status, body))
            got.append(wire.request("GET", "/things/fine")[::2])  # 405 from FastAPI's router
            got.append(wire.request("POST", "/nothing")[::2])  # 404 from FastAPI's router
            got.append(wire.request("GET", "/stream")[::2])  # streamed: chunked, headers at once
        finally:
            wire.close()
        wire = Wire(port)  # 413 closes its connection (the rest of the body is not read)
        try:
            status, headers, body = wire.request("POST", "/things/too-large", b"{}")
            got.append((status, body + headers["connection"].encode()))
        finally:
            wire.close()
    return got


@pytest.mark.parametrize("parser", PARSERS)
def test_the_hot_path_answers_byte_for_byte_as_the_fastapi_stack_on_one_kept_connection(parser: HttpParser) -> None:
    CALLS.clear()
    through_fastapi = answers(make_app(), parser)
    app = make_app()
    through_hot_path = answers(hot(app, crashed, "intake.error"), parser)
    assert through_hot_path == through_fastapi
    assert CALLS == ["fine", "store-down", "bug", "fine", "too-large"] * 2
    assert through_hot_path[0] == (200, b'{"status":"ok","name":"fine","bytes":7,"route":"/things/{name}"}')
    assert through_hot_path[1] == (503, b'{"status":"error","error":"temporarily_unavailable"}')  # StoreError
    assert through_hot_path[2] == (503, b'{"status":"error","error":"temporarily_unavailable"}')  # a crash
    assert [status for status, _ in through_hot_path[4:7]] == [405, 404, 200]
    assert through_hot_path[6][1] == b"onetwo"
    assert through_hot_path[7] == (413, b'{"status":"invalid","error":"body_too_large","max_bytes":10}close')


def without_date(raw: bytes) -> bytes:
    return b"\r\n".join(line for line in raw.split(b"\r\n") if not line.lower().startswith(b"date:"))


def status_handler_and_half_answer(app: Any, parser: HttpParser) -> tuple[tuple[int, bytes], bytes]:
    with served(app, parser) as port:
        wire = Wire(port)
        try:
            teapot = wire.request("POST", "/things/teapot")[::2]
            wire.sock.sendall(b"POST /things/half HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
            half = wire.buffer + read_all(wire.sock)
        finally:
            wire.close()
    return teapot, without_date(half)


@pytest.mark.parametrize("parser", PARSERS)
def test_an_http_exception_takes_its_status_handler_and_a_handled_one_after_the_answer_began_closes_the_connection(
        parser: HttpParser) -> None:
    """The two exception paths of Starlette's wrapping the byte-for-byte test above does not take."""
    through_fastapi = status_handler_and_half_answer(make_app(), parser)
    through_hot_path = status_handler_and_half_answer(hot(make_app(), crashed, "intake.error"), parser)
    assert through_hot_path == through_fastapi
    assert through_hot_path[0] == (418, b'{"status":"error","error":"error"}')
    head, _, body = through_hot_path[1].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"begun" in body  # then closed: no end of the chunked body
    assert not body.endswith(b"0\r\n\r\n")


def test_both_parsers_answer_the_hot_path_alike() -> None:
    assert answers(hot(make_app(), crashed, "intake.error"), "httptools") == \
        answers(hot(make_app(), crashed, "intake.error"), "h11")


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.parametrize("parser", PARSERS)
def test_a_pipelined_requests_body_clock_starts_when_the_one_before_is_answered(parser: HttpParser) -> None:
    """httptools parses a pipelined request while the one before runs; the guard must not start its body clock
    then (h11 does not parse it until then): here the first request outlasts the body deadline, and is answered
    before the second, unfinished, gets its 408."""
    with served(hot(make_app(), crashed, "intake.error"), parser, body_timeout=0.5) as port:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            sock.sendall(b"POST /things/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"
                         b"POST /things/late HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nx")
            data = read_all(sock)
        finally:
            sock.close()
    first, _, rest = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 "), data
    assert rest.startswith(b'{"status":"ok","name":"slow"'), data
    assert b"HTTP/1.1 408 " in rest and rest.endswith(b'{"status":"error","error":"request_timeout"}'), data


@pytest.mark.parametrize("parser", PARSERS)
def test_a_request_that_is_not_http_gets_uvicorns_plain_400_and_the_connection_closed(parser: HttpParser) -> None:
    """Both parsers answer it alike (docs/security.md, "What the reverse proxy must do"): not JSON, uvicorn's."""
    CALLS.clear()
    with served(hot(make_app(), crashed, "intake.error"), parser) as port:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            sock.sendall(b"POST /things/fine HTTP/1.1\r\nHost: t\r\nContent-Length: " + b"9" * 40 + b"\r\n\r\n")
            data = read_all(sock)
        finally:
            sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"content-type: text/plain; charset=utf-8" in head.lower(), data
    assert b"connection: close" in head.lower()
    assert b"Invalid HTTP request received." in body
    assert CALLS == []  # nothing reached the app


class FakeSocket(asyncio.Transport):
    """A connection's transport that records each write (one write is one send syscall on a real socket)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.mark.parametrize("parser", PARSERS)
def test_a_small_answer_leaves_in_one_write_on_either_parser(parser: HttpParser) -> None:
    """The guarded protocol itself, fed a request: the hot path's answer is one write (h11 made three, httptools
    two, before OneWrite)."""
    from uvicorn.server import ServerState

    async def one_request() -> list[bytes]:
        config = uvicorn.Config(hot(make_app(), crashed, "intake.error"), log_config=None, access_log=False,
                                lifespan="off")
        limits = ConnectionLimits(header_timeout=5.0, body_timeout=5.0, max_connections=16, listener="test")
        protocol = guarded_protocol(limits, parser)(config=config, server_state=ServerState(), app_state={},
                                                    _loop=asyncio.get_running_loop())
        transport = FakeSocket()
        protocol.connection_made(transport)
        protocol.data_received(b'POST /things/fine HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{"x":1}')
        for _ in range(500):
            if transport.writes:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # any further write of the same answer would land meanwhile
        protocol.connection_lost(None)
        return transport.writes

    writes = asyncio.run(one_request())
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 200 ") and writes[0].endswith(b'"route":"/things/{name}"}')


def test_hot_paths_serve_only_plain_routes_and_find_them_in_included_routers() -> None:
    app = make_app()
    assert [route.path for route in plain_routes(app)] == ["/things/{name}"]
    assert isinstance(hot(app, crashed, "intake.error"), HotPaths)


@pytest.mark.parametrize("declare", ["int_param", "no_request", "query_param", "sync"])
def test_a_plain_route_refuses_an_endpoint_that_needs_fastapis_handler(declare: str) -> None:
    router = APIRouter(route_class=PlainRoute)
    with pytest.raises(TypeError, match="PlainRoute /x"):
        if declare == "int_param":
            @router.post("/x/{n}")
            async def with_int(request: Request, n: int) -> Response:
                return Response()
        elif declare == "no_request":
            @router.post("/x/{n}")
            async def without_request(n: str) -> Response:
                return Response()
        elif declare == "query_param":
            @router.post("/x")
            async def with_query(request: Request, page: str) -> Response:
                return Response()
        else:
            @router.post("/x")
            def blocking(request: Request) -> Response:
                return Response()


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n"


def test_one_write_sends_headers_and_a_declared_length_body_together() -> None:
    transport, cycle = FakeSocket(), SimpleNamespace(response_started=False)
    wire = OneWrite(transport, cycle)  # type: ignore[arg-type]
    wire.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the response: at once
    cycle.response_started = True
    wire.write(HEAD)
    wire.write(b"{}")
    wire.write(b"")  # h11's end of a Content-Length body: nothing to send
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n", HEAD + b"{}"]


def test_one_write_sends_a_streamed_responses_headers_at_once_and_held_ones_on_close() -> None:
    transport, cycle = FakeSocket(), SimpleNamespace(response_started=True)
    streamed = OneWrite(transport, cycle)  # type: ignore[arg-type]
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    streamed.write(chunked)
    streamed.write(b"3\r\n\r\ncontent-length: 9\r\n")  # a body that looks like a header is not held
    assert transport.writes == [chunked, b"3\r\n\r\ncontent-length: 9\r\n"]

    transport, cycle = FakeSocket(), SimpleNamespace(response_started=True)
    cut_short = OneWrite(transport, cycle)  # type: ignore[arg-type]
    cut_short.write(HEAD)
    assert transport.writes == []
    cut_short.close()  # the app failed after its headers: they still go out, then the close
    assert transport.writes == [HEAD] and transport.closed


class Teapot(Exception):
    pass


def teapot_app(threads: list[str]) -> FastAPI:
    router = APIRouter(route_class=PlainRoute)

    @router.post("/brew")
    async def brew(request: Request) -> Response:
        threads.append(threading.current_thread().name)  # the event loop's
        raise Teapot()

    app = FastAPI()
    app.include_router(router)
    add_error_handlers(app)

    def short_and_stout(request: Request, exc: Exception) -> Response:  # a plain function: Starlette runs it in a thread
        threads.append(threading.current_thread().name)
        return json_response(418, {"status": "error", "error": "teapot"})

    app.add_exception_handler(Teapot, short_and_stout)
    return app


def test_a_plain_function_handler_answers_from_a_worker_thread_as_through_fastapi() -> None:
    answers_by_way = []
    for make in (lambda threads: teapot_app(threads), lambda threads: hot(teapot_app(threads), crashed, "intake.error")):
        threads: list[str] = []
        with served(make(threads), "httptools") as port:
            wire = Wire(port)
            try:
                answers_by_way.append(wire.request("POST", "/brew")[::2])
            finally:
                wire.close()
        assert len(threads) == 2 and threads[1] != threads[0]  # the handler ran off the event loop's thread
    assert answers_by_way[0] == answers_by_way[1] == (418, b'{"status":"error","error":"teapot"}')
