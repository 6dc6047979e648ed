"""The last line of defence of every app: an exception that escapes a route is answered, and the connection kept.

Starlette's ``ServerErrorMiddleware`` calls the app's ``Exception`` handler and then re-raises; uvicorn
then logs the same crash a second time and closes the connection. A client reusing it sees a reset: TEvo
retries, and a balancing proxy answers 502 for a request the daemon did answer. ``CrashGuard`` sits
inside the app instead (below ``ServerErrorMiddleware``, above the routes), logs the crash once and
sends the app's own answer (JSON 503 on intake, the error page on the dashboard) as a complete response.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tevo_bridge.log import get_logger

log = get_logger(__name__)

#: Builds the answer to a request whose route raised; must not raise itself (no store, no I/O).
Answer = Callable[[Request, Exception], Response]


class StartTracking:
    """``send``, remembering whether the response has begun: a crash after that cannot be answered, only the
    connection closed. A class rather than a closure, so ``CrashGuard`` and the intake's hot path share it."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class CrashGuard:
    """Pure ASGI (no ``BaseHTTPMiddleware``, whose task group would itself re-raise)."""

    def __init__(self, app: ASGIApp, answer: Answer, event: str = "http.crashed") -> None:
        self.app = app
        self.answer = answer
        self.event = event  # the log event, so intake and dashboard crashes stay told apart

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracking = StartTracking(send)
        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            await self.recover(exc, tracking.started, scope, receive, send)

    async def recover(self, exc: Exception, started: bool, scope: Scope, receive: Receive, send: Send) -> None:
        """Log the crash and answer it: called inside the ``except`` block (the log line takes its traceback).
        ``started``: whether the response had begun. Also the intake's hot path's last line (intake/hotpath.py)."""
        request = Request(scope)
        log.exception(self.event, path=request.url.path, error=str(exc)[:500], answered=not started)
        if started:
            # Half an answer is already on the wire: nothing complete can follow, so the server
            # must close this connection (re-raising would log the crash twice; returning lets
            # uvicorn see an unfinished response and close it).
            return
        await self.answer(request, exc)(scope, receive, send)
