"""The TEvo API's HTTP/1.1 transport: asyncio + h11 under httpx, without httpcore's pool and anyio's layers.

Why our own: httpx's default transport (httpcore) spent ~0.72 ms of client CPU per 5.6 KB GET at 4 concurrent,
most of it in its connection pool (every request rescans every connection, ~8 passes per request, each asking
the socket whether it is readable) and in anyio's stream and lock layers; httpx's own layers cost ~0.12 ms.
aiohttp would be cheaper still but adds ~9.6 MiB of idle RSS (benchmarks/NOTES.md, "fourth pass").

What it keeps from httpcore: a keep-alive pool per origin of at most ``max_connections``, idle ones reused
last-in first-out and dropped after ``keepalive_expiry``; a connection the server closed or wrote to while it
was idle is never used again (the protocol sees that the moment it happens: no per-request socket probe);
httpx's timeouts (connect, read, write, pool); TLS with httpx's trust (certifi, host name checked, SNI); and
httpx's exception classes, which TevoClient turns into "retry" (nothing was sent) or "outcome unknown".
A request is never retried here. A connection goes back to the pool only after its whole answer was read and
h11 says it can carry another request; an error, a cancel or an answer closed early closes it.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections import deque
from collections.abc import Callable
from typing import Literal, cast

import h11
import httpx

__all__ = ["TevoTransport", "transport_for"]

Origin = tuple[bytes, bytes, int]
DEFAULT_PORTS = {b"http": 80, b"https": 443}
#: Unread answer bytes above which the socket stops being read until the reader catches up.
READ_HIGH_WATER = 256 * 1024
#: As httpcore: an idle connection older than this is closed rather than risk the server closing it mid-send.
KEEPALIVE_EXPIRY = 5.0
TransportKind = Literal["builtin", "httpcore"]


def transport_for(base_url: str, kind: TransportKind, max_connections: int) -> httpx.AsyncBaseTransport | None:
    """The transport TevoClient uses, or None for httpx's default (httpcore).

    httpx honours HTTP(S)_PROXY/ALL_PROXY only when it builds the transport itself, so when one applies to
    TEvo's URL the default is kept and the proxy keeps working exactly as before.
    """
    if kind == "httpcore" or _env_proxy_applies(base_url):
        return None
    return TevoTransport(max_connections=max_connections)


def _env_proxy_applies(url: str) -> bool:
    parsed = httpx.URL(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parsed.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parsed.host)


class TevoTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio for httpx.AsyncClient: one small keep-alive pool per origin."""

    def __init__(self, *, max_connections: int = 8, ssl_context: ssl.SSLContext | None = None,
                 keepalive_expiry: float = KEEPALIVE_EXPIRY) -> None:
        self._limit = max_connections
        self._ssl_context = ssl_context
        self._expiry = keepalive_expiry
        self._pools: dict[Origin, _Pool] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        lease = await self._pool(request.url).acquire(request, timeouts)
        try:
            await lease.conn.send(request, timeouts.get("write"))
            head = await lease.conn.read_head(request, timeouts.get("read"))
        except BaseException:
            lease.finish(reuse=False)
            raise
        return httpx.Response(
            head.status_code, headers=head.headers.raw_items(), stream=_Body(lease, request, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason})

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            pool.close_idle()

    @property
    def closed(self) -> bool:
        return self._closed

    def _pool(self, url: httpx.URL) -> _Pool:
        scheme = url.raw_scheme
        origin = (scheme, url.raw_host, url.port or DEFAULT_PORTS.get(scheme, 80))
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(self, origin)
        return pool

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()  # certifi's bundle, as httpx's default transport
        return self._ssl_context


class _Pool:
    """The connections to one origin: ``busy`` counts those in use or being opened, ``idle`` is a LIFO stack.

    A counter and a queue of futures rather than an asyncio.Semaphore: the semaphore's ``locked()`` scans its
    waiters on every call, and the client's own semaphore already queues calls in the daemon.
    """

    def __init__(self, owner: TevoTransport, origin: Origin) -> None:
        self.owner = owner
        self.origin = origin
        self.idle: list[_Connection] = []
        self.busy = 0
        self.queue: deque[asyncio.Future[None]] = deque()

    async def acquire(self, request: httpx.Request, timeouts: dict[str, float | None]) -> _Lease:
        if self.busy >= self.owner._limit:
            await self._wait_turn(request, timeouts.get("pool"))
        self.busy += 1
        try:
            conn = self._reusable() or await self._connect(request, timeouts.get("connect"))
        except BaseException:
            self.release()
            raise
        return _Lease(self, conn)

    async def _wait_turn(self, request: httpx.Request, timeout: float | None) -> None:
        while self.busy >= self.owner._limit:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.queue.append(turn)
            try:
                async with asyncio.timeout(timeout):
                    await turn
            except BaseException as exc:
                if turn.done() and not turn.cancelled():
                    self._wake_next()  # woken, then cancelled before taking the slot: the next waiter takes it
                elif turn in self.queue:
                    self.queue.remove(turn)
                if isinstance(exc, TimeoutError):
                    raise httpx.PoolTimeout("no TEvo connection came free in time", request=request) from None
                raise

    def release(self) -> None:
        self.busy -= 1
        self._wake_next()

    def _wake_next(self) -> None:
        while self.queue:
            turn = self.queue.popleft()
            if not turn.done():
                turn.set_result(None)
                return

    def _reusable(self) -> _Connection | None:
        stale_before = asyncio.get_running_loop().time() - self.owner._expiry
        while self.idle:
            conn = self.idle.pop()
            if conn.usable() and conn.idle_since is not None and conn.idle_since >= stale_before:
                conn.idle_since = None
                return conn
            conn.close()
        return None

    async def _connect(self, request: httpx.Request, timeout: float | None) -> _Connection:
        scheme, host, port = self.origin
        tls = self.owner.ssl_context() if scheme == b"https" else None
        name = host.decode("ascii")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(_Connection, name, port, ssl=tls,
                                                       server_hostname=name if tls else None)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {name}:{port} in time", request=request) from None
        except OSError as exc:  # refused, unreachable, DNS, and ssl.SSLError (a certificate TEvo's trust refuses)
            raise httpx.ConnectError(f"{name}:{port}: {exc}", request=request) from None
        return conn

    def give_back(self, conn: _Connection, reuse: bool) -> None:
        if reuse and not self.owner.closed and conn.usable():
            conn.idle_since = asyncio.get_running_loop().time()
            self.idle.append(conn)
        else:
            conn.close()
        self.release()

    def close_idle(self) -> None:
        while self.idle:
            self.idle.pop().close()


class _Lease:
    """One request's hold on a connection and its pool slot; ``finish`` runs once, whatever calls it."""

    __slots__ = ("conn", "pool", "done")

    def __init__(self, pool: _Pool, conn: _Connection) -> None:
        self.pool = pool
        self.conn = conn
        self.done = False

    def finish(self, reuse: bool) -> None:
        if not self.done:
            self.done = True
            self.pool.give_back(self.conn, reuse)


class _Body(httpx.AsyncByteStream):
    """The answer's body as h11 parses it; the connection is reused only once ``EndOfMessage`` was read."""

    def __init__(self, lease: _Lease, request: httpx.Request, timeout: float | None) -> None:
        self._lease = lease
        self._request = request
        self._timeout = timeout
        self._complete = False

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        if self._complete:
            raise StopAsyncIteration
        if self._lease.done:  # closed before its end: never a silently shortened body
            raise httpx.ReadError("the answer was closed before its end", request=self._request)
        try:
            event = await self._lease.conn.next_event(self._request, self._timeout)
        except BaseException:
            self._lease.finish(reuse=False)
            raise
        if type(event) is h11.Data:
            return bytes(event.data)
        if type(event) is h11.EndOfMessage:
            self._complete = True
            raise StopAsyncIteration
        self._lease.finish(reuse=False)
        raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} in the answer", request=self._request)

    async def aclose(self) -> None:
        self._lease.finish(reuse=self._complete and self._lease.conn.next_cycle())


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: bytes in from the loop, h11 events out to the one request using it."""

    def __init__(self) -> None:
        self.h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.incoming: list[bytes] = []
        self.buffered = 0
        self.reading_paused = False
        self.eof = False
        self.eof_fed = False
        self.lost = False
        self.spoiled = False
        self.idle_since: float | None = None
        self.waiter: asyncio.Future[bool] | None = None
        self.drained: asyncio.Future[bool] | None = None
        self.writing_paused = False

    # The loop's side -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        if self.idle_since is not None:
            # Nothing is asked, so nothing may be answered: a server that talks now is closing or confused.
            self.spoiled = True
            self.close()
            return
        self.incoming.append(data)
        self.buffered += len(data)
        if self.buffered > READ_HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake(self.waiter, True)

    def eof_received(self) -> bool | None:
        self.eof = True
        if self.idle_since is not None:
            self.spoiled = True
        self._wake(self.waiter, True)
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self.eof = self.spoiled = True
        self._wake(self.waiter, True)
        self._wake(self.drained, True)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake(self.drained, True)

    @staticmethod
    def _wake(future: asyncio.Future[bool] | None, value: bool) -> None:
        if future is not None and not future.done():
            future.set_result(value)

    # The request's side ----------------------------------------------------------------------

    def usable(self) -> bool:
        return not self.spoiled and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        self.spoiled = True
        if self.transport is not None:
            self.transport.close()

    async def send(self, request: httpx.Request, timeout: float | None) -> None:
        """The whole request in one write (a TEvo body is JSON already in memory), then wait for the socket."""
        try:
            parts = [self.h11.send(h11.Request(method=request.method, target=request.url.raw_path,
                                               headers=request.headers.raw))]
            async for chunk in request.stream:  # type: ignore[union-attr]  # httpx.AsyncClient builds async streams
                if chunk:
                    parts.append(self.h11.send(h11.Data(data=chunk)))
            parts.append(self.h11.send(h11.EndOfMessage()))
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from None
        if self.lost or self.transport is None or self.transport.is_closing():
            raise httpx.WriteError("the connection closed before the request was written", request=request)
        self.transport.write(b"".join(b for b in parts if b))
        while self.writing_paused and not self.lost:
            if not await self._wait("drained", timeout):
                raise httpx.WriteTimeout("the request was not written in time", request=request)
        if self.lost and self.writing_paused:
            raise httpx.WriteError("the connection closed while the request was being written", request=request)

    async def read_head(self, request: httpx.Request, timeout: float | None) -> h11.Response:
        while True:
            event = await self.next_event(request, timeout)
            if type(event) is h11.Response:
                return event
            if type(event) is not h11.InformationalResponse:  # a 100 Continue is skipped, as httpcore does
                raise httpx.RemoteProtocolError("the server closed the connection without answering",
                                                request=request)

    async def next_event(self, request: httpx.Request, timeout: float | None) -> object:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from None
            if event is not h11.NEED_DATA:
                return event
            if self.incoming:
                self._feed()
            elif self.eof:
                if self.eof_fed:
                    raise httpx.ReadError("the connection closed during the answer", request=request)
                self.eof_fed = True
                self.h11.receive_data(b"")
            elif not await self._wait("waiter", timeout):
                raise httpx.ReadTimeout("no answer in time", request=request)

    def next_cycle(self) -> bool:
        """Ready for the next request: both sides done and neither asked to close."""
        done = self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE
        if done and not self.incoming and not self.h11.trailing_data[0]:  # bytes past the answer: do not trust it
            self.h11.start_next_cycle()
            return True
        return False

    def _feed(self) -> None:
        data = self.incoming[0] if len(self.incoming) == 1 else b"".join(self.incoming)
        self.incoming.clear()
        self.buffered = 0
        self.h11.receive_data(data)
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()

    async def _wait(self, slot: Literal["waiter", "drained"], timeout: float | None) -> bool:
        """True when the loop woke us, False when ``timeout`` ran out first; a cancel propagates."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        setattr(self, slot, future)
        expire: Callable[[], None] = lambda: self._wake(future, False)  # noqa: E731
        timer = loop.call_later(timeout, expire) if timeout is not None else None
        try:
            return await future
        finally:
            setattr(self, slot, None)
            if timer is not None:
                timer.cancel()
