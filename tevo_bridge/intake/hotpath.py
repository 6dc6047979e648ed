"""``HotPaths``: the intake's own POST routes served without walking FastAPI's middleware and router stack.

A hold or webhook ack went through about fifteen ASGI layers before reaching its route (the app, Starlette,
the server-error and telemetry and body-size middleware, ``CrashGuard``, the exception middleware, the
exit-stack middleware, the router, the included router, the route, the request-response wrapper), each
an awaited call per request: together a tenth of a webhook ack's CPU (benchmarks/NOTES.md). The routes
read and check their bodies themselves (``PlainRoute``), so nothing in those layers does work for them.

Here a request whose method and path match one of those routes goes straight to the route, wrapped
in what still matters: the app's exception handlers (the same answers: 413 body too large, 503 store
unavailable, 400 client gone) and ``CrashGuard`` (any other exception answered 503, the connection
kept). Everything else, the lifespan included, goes to the app as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from tevo_bridge.asgi_guard import Answer, CrashGuard
from tevo_bridge.intake.routing import PlainRoute

#: Starlette's per-request exception handler tables: (by exception class, by status code).
Handlers = tuple[dict[Any, Callable[..., Any]], dict[int, Callable[..., Any]]]


class HotPaths:
    def __init__(self, app: FastAPI, routes: Sequence[PlainRoute], crashed: Answer, event: str) -> None:
        self.app = app
        self.routes = [(route, CrashGuard(route.app, crashed, event)) for route in routes]
        self._handlers: Handlers | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route, guarded in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["app"] = self.app
                    scope["starlette.exception_handlers"] = self.handlers()
                    await guarded(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def handlers(self) -> Handlers:
        """The app's handlers as Starlette's ``ExceptionMiddleware`` holds them (500 and ``Exception`` are
        for the server-error middleware: here ``CrashGuard`` answers those). Read on first use: the app
        registers its handlers after its routes."""
        if self._handlers is None:
            by_class: dict[Any, Callable[..., Any]] = {}
            by_status: dict[int, Callable[..., Any]] = {}
            for key, handler in self.app.exception_handlers.items():
                if key in (500, Exception):
                    continue
                if isinstance(key, int):
                    by_status[key] = handler
                else:
                    by_class[key] = handler
            self._handlers = (by_class, by_status)
        return self._handlers


def plain_routes(app: FastAPI) -> list[PlainRoute]:
    """The app's ``PlainRoute``s, wherever FastAPI filed them (it keeps an included router as one entry)."""
    found: list[PlainRoute] = []

    def walk(routes: Sequence[Any]) -> None:
        for route in routes:
            if isinstance(route, PlainRoute):
                found.append(route)
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes)

    walk(app.router.routes)
    return found


def hot(app: FastAPI, crashed: Answer, event: str) -> ASGIApp:
    return HotPaths(app, plain_routes(app), crashed, event)
