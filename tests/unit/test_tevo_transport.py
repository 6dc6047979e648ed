"""tevo/transport.py over real sockets on loopback: keep-alive, servers that close or stall, TLS, caps, cancels.

The servers here are plain asyncio servers that count the connections they accept and the requests they read,
and answer each request the way a test scripts it: what the transport did is read from the server's side.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import stamina.instrumentation
import trustme

from tests.cassettes.record import SECRET, TOKEN, fixture
from tevo_bridge.config import TevoSettings
from tevo_bridge.tevo.client import ClientOptions, TevoClient
from tevo_bridge.tevo.errors import OutcomeUnknown, ResponseTooLarge, RetryableError
from tevo_bridge.tevo.models import Order
from tevo_bridge.tevo.transport import TevoTransport, transport_for

ORDER = fixture("office_sale_eticket")
BODY = json.dumps(ORDER).encode()
TEVO_JSON = b"application/vnd.ticketevolution.api+json; version=9"

Script = Callable[[int, bytes, asyncio.StreamWriter], Awaitable[None]]


def answer(body: bytes = BODY, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return (b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s"
            % (TEVO_JSON, len(body), headers, body))


async def ok(n: int, head: bytes, writer: asyncio.StreamWriter) -> None:
    writer.write(answer())


class Server:
    """Counts ``accepts`` and ``requests`` (request lines); ``script(n, head, writer)`` answers the n-th request."""

    def __init__(self, script: Script = ok) -> None:
        self.script = script
        self.accepts = 0
        self.requests: list[bytes] = []
        self.hangups = 0  # connections that ended because the client closed them
        self.server: asyncio.Server | None = None

    async def start(self, tls: ssl.SSLContext | None = None, sock: socket.socket | None = None,
                    serve: bool = True) -> str:
        if sock is None:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        else:
            self.server = await asyncio.start_server(self._serve, sock=sock, ssl=tls, start_serving=serve)
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if tls else 'http'}://{'localhost' if tls else '127.0.0.1'}:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepts += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.hangups += 1
                    return
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                self.requests.append(head.split(b"\r\n", 1)[0])
                await self.script(len(self.requests), head, writer)
                if writer.is_closing():
                    return
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    yield s
    await s.stop()


def client(base_url: str, transport: httpx.AsyncBaseTransport | None = None, **options: float) -> TevoClient:
    return TevoClient(base_url, TOKEN, SECRET, ClientOptions(**options), transport)  # type: ignore[arg-type]


async def test_sequential_calls_share_one_connection(server: Server) -> None:
    async with client(await server.start()) as tevo:
        assert isinstance(tevo._http._transport, TevoTransport)
        orders = [await tevo.get_order(n) for n in range(5)]
    assert [o.id for o in orders] == [ORDER["id"]] * 5
    assert server.accepts == 1 and len(server.requests) == 5
    assert server.requests[0] == b"GET /v9/orders/0 HTTP/1.1"


async def test_an_idle_connection_the_server_closed_is_never_used() -> None:
    async def answer_then_hang_up(n: int, head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(answer())  # keep-alive by its headers, closed all the same
        await writer.drain()
        writer.close()

    server = Server(answer_then_hang_up)
    async with client(await server.start()) as tevo:
        await tevo.get_order(1)
        await asyncio.sleep(0.05)  # the FIN arrives while the connection is idle in the pool
        await tevo.accept_order(1, reviewer_id=4711)
    await server.stop()
    # The POST went out once, on a new connection: had the closed one been used, it would be OutcomeUnknown.
    assert server.accepts == 2 and [r.split(b" ")[0] for r in server.requests] == [b"GET", b"POST"]


async def test_a_post_whose_connection_drops_before_the_answer_is_outcome_unknown_and_sent_once() -> None:
    async def drop(n: int, head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()

    server = Server(drop)
    async with client(await server.start()) as tevo:
        with pytest.raises(OutcomeUnknown, match="re-fetch"):
            await tevo.accept_order(402117, reviewer_id=4711)
    await server.stop()
    assert server.requests == [b"POST /v9/orders/402117/accept HTTP/1.1"]


async def test_connection_refused_is_retried_then_succeeds() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, not listening: a connect is refused
    server = Server()
    base_url = await server.start(sock=sock, serve=False)
    assert server.server is not None
    refused: list[str] = []

    def open_on_first_retry(details: stamina.instrumentation.RetryDetails) -> None:
        refused.append(str(details.caused_by))
        asyncio.get_running_loop().create_task(server.server.start_serving())  # type: ignore[union-attr]

    hooks = stamina.instrumentation.get_on_retry_hooks()
    stamina.instrumentation.set_on_retry_hooks([open_on_first_retry])
    try:
        async with client(base_url) as tevo:
            # In tests the retry waits 0 s (conftest: stamina's testing mode); that wait yields once, and the
            # listening starts.
            order = await tevo.accept_order(1, reviewer_id=4711)
    finally:
        stamina.instrumentation.set_on_retry_hooks(hooks)
        await server.stop()
    assert order.id == ORDER["id"]
    assert refused and "ConnectError" in refused[0]
    assert len(server.requests) == 1  # a refused POST is retried: nothing had been sent


async def test_a_read_timeout_is_retryable_for_a_get_and_outcome_unknown_for_a_post() -> None:
    async def stall(n: int, head: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = Server(stall)
    async with client(await server.start(), read_timeout=0.2, max_retries=0) as tevo:
        with pytest.raises(RetryableError, match="ReadTimeout"):
            await tevo.get_order(1)
        with pytest.raises(OutcomeUnknown, match="ReadTimeout"):
            await tevo.accept_order(1, reviewer_id=4711)
    await server.stop()
    assert len(server.requests) == 2 and server.accepts == 2  # a timed-out connection is not reused


async def test_a_chunked_answer_in_pieces_is_read_whole_and_the_connection_reused() -> None:
    async def chunked(n: int, head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % TEVO_JSON)
        for start in range(0, len(BODY), 1000):
            piece = BODY[start:start + 1000]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.005)
        writer.write(b"0\r\n\r\n")

    server = Server(chunked)
    async with client(await server.start()) as tevo:
        first, second = await tevo.get_order(1), await tevo.get_order(2)
    await server.stop()
    assert first.id == second.id == ORDER["id"]
    assert server.accepts == 1


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_large_answer_refused_by_read_capped_closes_its_connection(declared: bool) -> None:
    big = b"%PDF-" + b"x" * 2_000_000

    async def airbill(n: int, head: bytes, writer: asyncio.StreamWriter) -> None:
        if b"get_airbill" not in head:
            writer.write(answer())
        elif declared:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\nContent-Length: %d\r\n\r\n"
                         % len(big) + big)
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n\r\n")
            for start in range(0, len(big), 65536):
                piece = big[start:start + 65536]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            writer.write(b"0\r\n\r\n")

    server = Server(airbill)
    async with client(await server.start()) as tevo:
        with pytest.raises(ResponseTooLarge):
            await tevo.get_airbill(7, max_bytes=100_000)
        order = await tevo.get_order(1)
    await server.stop()
    assert order.id == ORDER["id"]
    assert server.accepts == 2  # the half-read connection was closed, not pooled


async def test_a_cancelled_call_leaves_no_half_read_connection_in_the_pool() -> None:
    half_sent = asyncio.Event()

    async def half_then_stall(n: int, head: bytes, writer: asyncio.StreamWriter) -> None:
        if n == 1:
            writer.write(answer()[:200])
            await writer.drain()
            half_sent.set()
            await asyncio.sleep(5)
        else:
            writer.write(answer())

    server = Server(half_then_stall)
    async with client(await server.start()) as tevo:
        call = asyncio.create_task(tevo.get_order(1))
        await half_sent.wait()
        await asyncio.sleep(0.02)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        order = await tevo.get_order(2)
    await server.stop()
    assert order.id == ORDER["id"]
    assert server.accepts == 2 and len(server.requests) == 2


async def test_connection_close_is_honoured() -> None:
    async def closing(n: int, head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(BODY, b"Connection: close"))
        await writer.drain()
        writer.close()

    server = Server(closing)
    async with client(await server.start()) as tevo:
        await tevo.get_order(1)
        await tevo.accept_order(1, reviewer_id=4711)
    await server.stop()
    assert server.accepts == 2 and len(server.requests) == 2


async def test_the_pool_caps_connections_per_origin_and_reuses_the_last_idle_one(server: Server) -> None:
    base_url = await server.start()
    transport = TevoTransport(max_connections=2)
    async with httpx.AsyncClient(transport=transport) as http:
        answers = await asyncio.gather(*(http.get(f"{base_url}/v9/orders/{n}") for n in range(10)))
        assert [a.status_code for a in answers] == [200] * 10
        assert server.accepts <= 2
        for n in range(3):
            await http.get(f"{base_url}/v9/orders/{n}")
        assert server.accepts <= 2


async def test_a_pool_timeout_when_every_connection_is_busy() -> None:
    async def stall(n: int, head: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = Server(stall)
    base_url = await server.start()
    transport = TevoTransport(max_connections=1)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, pool=0.1)) as http:
        busy = asyncio.create_task(http.get(f"{base_url}/v9/orders/1"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(f"{base_url}/v9/orders/2")
        busy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await busy
    await server.stop()
    assert server.accepts == 1


async def test_aclose_closes_every_pooled_connection(server: Server) -> None:
    async with client(await server.start()) as tevo:
        await asyncio.gather(*(tevo.get_order(n) for n in range(4)))
        opened = server.accepts
    for _ in range(100):
        if server.hangups == opened:
            break
        await asyncio.sleep(0.01)
    assert opened >= 1 and server.hangups == opened


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = httpx.create_ssl_context()
    ca.configure_trust(context)
    return context


async def test_tls_with_a_trusted_ca_and_the_right_name(ca: trustme.CA, server: Server) -> None:
    base_url = await server.start(tls=tls_server_context(ca, "localhost"))
    async with client(base_url, TevoTransport(ssl_context=trusting(ca))) as tevo:
        orders = [await tevo.get_order(n) for n in range(3)]
    assert [o.id for o in orders] == [ORDER["id"]] * 3 and server.accepts == 1


async def test_tls_refuses_an_unknown_ca_and_a_wrong_host_name(ca: trustme.CA, server: Server) -> None:
    base_url = await server.start(tls=tls_server_context(ca, "api.ticketevolution.com"))
    async with client(base_url, max_retries=0) as tevo:  # certifi's bundle: the throwaway CA is unknown
        with pytest.raises(RetryableError, match="ConnectError"):
            await tevo.get_order(1)
    async with client(base_url, TevoTransport(ssl_context=trusting(ca)), max_retries=0) as tevo:
        with pytest.raises(RetryableError, match="ConnectError"):  # trusted CA, but issued for another name
            await tevo.get_order(1)
    assert server.requests == []


def test_the_transport_is_chosen_by_config_and_a_proxy_keeps_httpx_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(transport_for("https://api.ticketevolution.com", "builtin", 4), TevoTransport)
    assert transport_for("https://api.ticketevolution.com", "httpcore", 4) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert transport_for("https://api.ticketevolution.com", "builtin", 4) is None
    tevo = TevoClient("https://api.ticketevolution.com", TOKEN, SECRET)
    proxied = tevo._http._transport_for_url(httpx.URL("https://api.ticketevolution.com/v9/orders"))
    assert isinstance(proxied, httpx.AsyncHTTPTransport) and proxied is not tevo._http._transport
    monkeypatch.setenv("NO_PROXY", "api.ticketevolution.com")
    assert isinstance(transport_for("https://api.ticketevolution.com", "builtin", 4), TevoTransport)


async def test_an_upload_the_server_does_not_read_ends_at_the_upload_timeout_as_outcome_unknown() -> None:
    """The write timeout is the client's upload timeout for e-tickets: a stalled upload is not waited on forever."""
    heads: list[bytes] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        await asyncio.sleep(5)  # the body is never read: the client's socket buffer fills up
        writer.close()

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    item = Order.model_validate(ORDER).items[0]
    try:
        async with client(base_url, upload_timeout=0.3, read_timeout=30.0) as tevo:
            with pytest.raises(OutcomeUnknown, match="WriteTimeout"):
                await tevo.add_etickets(ORDER["id"], item, [b"%PDF-" + b"x" * 48_000_000])
    finally:
        server.close()
    assert len(heads) == 1


def test_http_transport_httpcore_is_httpx_default() -> None:
    settings = TevoSettings(base_url="https://api.ticketevolution.com", http_transport="httpcore")
    assert isinstance(TevoClient.from_settings(settings)._http._transport, httpx.AsyncHTTPTransport)
    settings = TevoSettings(base_url="https://api.ticketevolution.com")
    assert isinstance(TevoClient.from_settings(settings)._http._transport, TevoTransport)
