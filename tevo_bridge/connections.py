"""Deadlines and a connection cap for the HTTP listeners, which face the open internet.

uvicorn bounds only idle keep-alive connections: a client may take forever to send its request headers
or its body, and may open as many connections as the process has file descriptors. A few hundred such
clients used to exhaust the descriptors, after which no hold could be answered. Each listener therefore
speaks HTTP through uvicorn's httptools or h11 protocol (``[server] http_parser``, ``httpparser.py``) with
``ConnectionGuard`` mixed in, which:

- closes a connection whose request headers are not complete within ``[server] header_timeout``
  (counted from the connection's first byte, or from the first byte of a later request on it);
- closes a connection whose request body is not complete within ``[server] body_timeout`` of its
  headers, answering 408 when nothing was answered yet;
- keeps at most ``[server] max_connections`` connections (lowered to fit the file limit, see
  ``connection_budget``), making room by closing the oldest connection that has no request in progress.

The guard is written once, against what both of uvicorn's protocols share: ``connection_made``,
``data_received``, ``on_response_complete``, ``connection_lost`` and a request cycle with ``more_body``,
``response_started``, ``response_complete``, ``disconnected`` and ``message_event``. The one difference it
must know is which cycle is running: h11 parses a pipelined request only once the one before is answered,
so its ``cycle`` is the running one; httptools parses ahead and queues, so its ``cycle`` may be a request
still waiting, and its adapter names the running one instead (``running_cycle``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import resource
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from tevo_bridge.httpparser import HttpParser
from tevo_bridge.log import get_logger

log = get_logger(__name__)

#: Descriptors kept for everything but client connections: the store (SQLite files or a PostgreSQL pool),
#: the log, the POS plugin's and TEvo's HTTP pools, the listening sockets, the event loop's own.
FD_RESERVE = 128
#: Each listener keeps at least this many connections, however low the file limit.
MIN_CONNECTIONS = 16
#: Connections the kernel queues for a listener, and asyncio accepts in one go (uvicorn's default is 2048).
MIN_BACKLOG = 16
MAX_BACKLOG = 512
#: At most one log line per this many seconds about connections shed or timed out (an attack would
#: otherwise flood the log).
SHED_LOG_EVERY = 10.0


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    max_connections: int
    listener: str  # "public" or "admin", for the log


@dataclass(frozen=True)
class Budget:
    """What one listener may hold in descriptors: ``max_connections`` open plus ``backlog`` just accepted."""

    max_connections: int
    backlog: int


def connection_budget(configured: int, listeners: int, soft_limit: int | None = None) -> Budget:
    """``configured`` connections per listener, lowered so every listener at its cap leaves ``FD_RESERVE``.

    A daemon out of descriptors cannot open its store or call its POS, so it would fail every hold; and
    asyncio, on EMFILE, stops accepting for a second, stalling every client. The backlog is part of the
    budget because asyncio accepts up to ``backlog`` connections in one go before the protocol sees any of
    them (and can close one to make room), so those descriptors are open at once.
    """
    if soft_limit is None:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY:
        return Budget(configured, MAX_BACKLOG)
    per_listener = (soft_limit - FD_RESERVE) // max(1, listeners)
    backlog = max(MIN_BACKLOG, min(MAX_BACKLOG, per_listener // 4))
    return Budget(max(MIN_CONNECTIONS, min(configured, per_listener - backlog)), backlog)


def raw_answer(status: int, reason: str, error: str) -> bytes:
    """A complete JSON answer that closes the connection, written outside any request cycle."""
    body = json.dumps({"status": "error", "error": error}, separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n")
    return head.encode("ascii") + body


REQUEST_TIMEOUT = raw_answer(408, "Request Timeout", "request_timeout")
TOO_MANY_CONNECTIONS = raw_answer(503, "Service Unavailable", "too_many_connections")


class ShedLog:
    """Counts connections closed by the guard and logs the counts at most every ``SHED_LOG_EVERY`` seconds."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.last = 0.0

    def note(self, listener: str, reason: str) -> None:
        key = f"{listener}.{reason}"
        self.counts[key] = self.counts.get(key, 0) + 1
        now = time.monotonic()
        if now - self.last >= SHED_LOG_EVERY:
            log.warning("server.connections_closed", counts=self.counts)
            self.counts = {}
            self.last = now


SHED = ShedLog()


class Cycle(Protocol):
    """What the guard uses of a request cycle; uvicorn's h11 and httptools cycles both have it."""

    transport: asyncio.Transport
    more_body: bool
    response_started: bool
    response_complete: bool
    disconnected: bool
    message_event: asyncio.Event


if TYPE_CHECKING:
    class _UvicornProtocol(asyncio.Protocol):
        """What the guard uses of uvicorn's protocols (h11 and httptools alike): the class it is mixed into."""

        cycle: Any
        transport: asyncio.Transport
        loop: asyncio.AbstractEventLoop
        connections: set[Any]

        def on_response_complete(self) -> None: ...
else:
    _UvicornProtocol = asyncio.Protocol


class ConnectionGuard(_UvicornProtocol):
    """Header and body deadlines and a connection cap (see the module docstring), mixed into uvicorn's protocol.

    ``guarded_protocol`` makes the class per listener and parser, which sets ``limits``.
    """

    limits: ClassVar[ConnectionLimits]
    http_parser: ClassVar[HttpParser]  # "httptools" or "h11": which uvicorn protocol this is mixed into

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened = time.monotonic()
        self.served = 0  # requests answered on this connection
        self.received_any = False  # bytes of a request not yet parsed into a request cycle
        self.seen_cycle: Cycle | None = None
        self.header_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None

    @property
    def running_cycle(self) -> Cycle | None:
        """The request being answered (or whose body is arriving); h11's ``cycle``, overridden for httptools."""
        cycle: Cycle | None = self.cycle
        return cycle

    # Connection cap --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        open_now = [c for c in self.connections if isinstance(c, ConnectionGuard) and not c.closing]
        super().connection_made(transport)
        if len(open_now) >= self.limits.max_connections and not self._make_room(open_now):
            SHED.note(self.limits.listener, "refused_at_cap")
            self.transport.write(TOO_MANY_CONNECTIONS)
            self.transport.close()
            return
        self.header_timer = self.loop.call_later(self.limits.header_timeout, self._header_late)

    def _make_room(self, open_now: list[ConnectionGuard]) -> bool:
        """Close one connection to make room for the new one; False if every connection is processing a request.

        The victim is the oldest in the first non-empty group: connections that never completed a request and
        have none in progress (idle, or trickling headers: what an attack holds), then idle keep-alive ones,
        then requests whose body is still arriving (TEvo sends its small bodies at once). A request whose body
        is in (a hold at the POS, say) is never cut.

        Refusing the newest instead would let whoever fills the cap first keep it: TEvo's next hold would be
        refused for as long as the attack lasts. Evicting the oldest waiting connection means an attacker must
        out-pace every new client to keep one out.
        """
        ranked = [(rank, c.opened, c) for c in open_now if (rank := c.eviction_rank) is not None]
        if not ranked:
            return False
        _, _, victim = min(ranked, key=lambda entry: entry[:2])
        SHED.note(self.limits.listener, "evicted_at_cap")
        victim.cut()
        return True

    @property
    def eviction_rank(self) -> int | None:
        """0 never served and idle, 1 idle keep-alive, 2 body still arriving, None processing (never evicted)."""
        cycle = self.running_cycle
        if cycle is None or cycle.response_complete:
            return 0 if self.served == 0 else 1
        if cycle.more_body:
            return 2
        return None

    @property
    def closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    @property
    def busy(self) -> bool:
        """A request was received and its answer is not complete yet."""
        cycle = self.running_cycle
        return cycle is not None and not cycle.response_complete

    # Deadlines -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self.busy:
            self.received_any = True
            if self.header_timer is None:
                self.header_timer = self.loop.call_later(self.limits.header_timeout, self._header_late)
        super().data_received(data)
        self._track_cycle()

    def on_response_complete(self) -> None:
        self.served += 1
        super().on_response_complete()  # may start a pipelined request
        self._track_cycle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def _track_cycle(self) -> None:
        """After the parser took what arrived: a request that started running stops the header clock and starts
        the body clock; a complete body stops the body clock. Both protocols create a request's task before this
        runs but the loop runs it only after, so its answer goes through ``OneWrite``."""
        cycle = self.running_cycle
        if cycle is not None and cycle is not self.seen_cycle:
            self.seen_cycle = cycle
            cycle.transport = OneWrite(self.transport, cycle)
            self.received_any = False
            self._cancel(self.header_timer)
            self.header_timer = None
            if cycle.more_body:
                self.body_timer = self.loop.call_later(self.limits.body_timeout, self._body_late)
        if cycle is not None and not cycle.more_body and self.body_timer is not None:
            self._cancel(self.body_timer)
            self.body_timer = None

    def _header_late(self) -> None:
        self.header_timer = None
        if self.closing or self.busy:
            return
        SHED.note(self.limits.listener, "header_timeout")
        if self.received_any:  # a request begun: say why it is cut (a fresh idle connection is just closed)
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()

    def _body_late(self) -> None:
        self.body_timer = None
        cycle = self.running_cycle
        if self.closing or cycle is None or not cycle.more_body:
            return
        SHED.note(self.limits.listener, "body_timeout")
        self.cut()

    def cut(self) -> None:
        """Close the connection, answering 408 if a request is in and unanswered; the app reading its body sees
        the client gone."""
        cycle = self.running_cycle
        if cycle is not None and not cycle.response_complete:
            if not cycle.response_started:
                self.transport.write(REQUEST_TIMEOUT)
                cycle.response_started = cycle.response_complete = True  # the app's answer, if any, goes nowhere
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self.header_timer, self.body_timer):
            self._cancel(timer)
        self.header_timer = self.body_timer = None

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()


def guarded_protocol(limits: ConnectionLimits, parser: HttpParser) -> type[ConnectionGuard]:
    """The protocol class for one listener (uvicorn's ``Config(http=...)`` takes a class, not an instance).

    Only the chosen parser's uvicorn module is imported: a daemon on httptools never imports uvicorn's h11
    protocol (tests/integration/test_run_imports.py)."""
    base = _httptools_guarded() if parser == "httptools" else _h11_guarded()
    return type(f"{base.__name__}_{limits.listener}", (base,), {"limits": limits, "http_parser": parser})


@functools.cache
def _h11_guarded() -> type[ConnectionGuard]:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(ConnectionGuard, H11Protocol):
        """uvicorn's h11 protocol, guarded: its ``cycle`` is the running request (h11 parses one at a time)."""

    return GuardedH11Protocol


@functools.cache
def _httptools_guarded() -> type[ConnectionGuard]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(ConnectionGuard, HttpToolsProtocol):
        """uvicorn's httptools protocol, guarded. httptools parses pipelined requests ahead and queues them, so its
        ``cycle`` is the last request parsed; the running one is the last handed to ``_start_asgi_task``. Were the
        guard to follow ``cycle``, a queued request's body clock could cut the connection under a request being
        answered, which h11 never does."""

        running: Cycle | None = None

        @property
        def running_cycle(self) -> Cycle | None:
            return self.running

        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            self.running = cycle
            super()._start_asgi_task(cycle, app)

    return GuardedHttpToolsProtocol


class OneWrite(asyncio.Transport):
    """A request cycle's view of the connection: a response's status line and headers wait for its first
    body bytes, so a complete small answer leaves in one write instead of three on h11 (headers, body, and its
    empty end of message) or two on httptools (headers, body).

    Under the hold load the separate writes were ~10% of the daemon's CPU (a syscall each, and a TCP
    segment each, as uvicorn sets TCP_NODELAY). Only a response that declares its Content-Length is held
    back, so a streamed one (the dashboard's events) still sends its headers at once; closing sends what
    was held, so a response cut short still goes out as it did before.
    """

    def __init__(self, transport: asyncio.Transport, cycle: Cycle) -> None:
        super().__init__()
        self.transport = transport
        self.cycle = cycle
        self.headers_sent = False  # the first write after the response started is its status line and headers
        self.held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.held is not None:
            data, self.held = self.held + bytes(data), None
        elif self.cycle.response_started and not self.headers_sent:
            self.headers_sent = True
            if b"\r\ncontent-length:" in bytes(data).lower():
                self.held = bytes(data)
                return
        if data:
            self.transport.write(data)

    def close(self) -> None:
        if self.held is not None:
            self.transport.write(self.held)
            self.held = None
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)
