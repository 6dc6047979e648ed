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

The route itself is served by ``PlainApp``: what FastAPI's ``request_response`` wrapper (a ``Request``, two
``AsyncExitStack``s for dependencies a ``PlainRoute`` cannot have), Starlette's exception wrapping and
``CrashGuard`` did around the endpoint, in one frame with one send wrapper instead of five frames and three
wrappers, every one of them resumed at each of a hold's awaits. A route whose path cannot match is passed
over on its compiled pattern, without building the child scope ``matches`` builds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from starlette._utils import is_async_callable  # Starlette's own test, so a handler runs as there
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from tevo_bridge.asgi_guard import Answer, CrashGuard, StartTracking
from tevo_bridge.intake.routing import PlainRoute

#: Starlette's per-request exception handler tables: (by exception class, by status code).
Handlers = tuple[dict[Any, Callable[..., Any]], dict[int, Callable[..., Any]]]


class HotPaths:
    def __init__(self, app: FastAPI, routes: Sequence[PlainRoute], crashed: Answer, event: str) -> None:
        self.app = app
        guard = CrashGuard(app, crashed, event)
        self.routes = [(route, route.path_regex.match, PlainApp(route, self, guard)) for route in routes]
        self._handlers: Handlers | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"] if not scope.get("root_path") else None  # under a root path: ``matches`` decides
            for route, could_match, served in self.routes:
                if path is not None and could_match(path) is None:
                    continue  # what ``matches`` would find too, after building a child scope
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["app"] = self.app
                    scope["starlette.exception_handlers"] = self.handlers()
                    await served(scope, receive, send)
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


class PlainApp:
    """One ``PlainRoute`` as the ASGI app ``HotPaths`` calls: the endpoint given the ``Request`` and its path
    parameters, an exception answered by the app's handler for it (as Starlette's ``wrap_app_handling_exceptions``
    does: by status for an ``HTTPException``, else by class along the MRO) and any other one by ``CrashGuard``'s
    ``recover`` (logged once, answered 503 unless the answer had begun)."""

    def __init__(self, route: PlainRoute, paths: HotPaths, guard: CrashGuard) -> None:
        self.endpoint = route.endpoint
        self.paths = paths
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        tracking = StartTracking(send)

        try:
            try:
                response: Response = await self.endpoint(request, **scope.get("path_params", {}))
                await response(scope, receive, tracking)
            except Exception as exc:
                handler = self._handler(exc)
                if handler is None:
                    raise
                if tracking.started:
                    raise RuntimeError("Caught handled exception, but response already started.") from exc
                answer = (await handler(request, exc) if is_async_callable(handler)
                          else await run_in_threadpool(handler, request, exc))
                if answer is not None:
                    await answer(scope, receive, tracking)
                exc.__traceback__ = None  # as Starlette: a reused exception would gather tracebacks
        except Exception as exc:
            await self.guard.recover(exc, tracking.started, scope, receive, send)

    def _handler(self, exc: Exception) -> Callable[..., Any] | None:
        by_class, by_status = self.paths.handlers()
        handler = by_status.get(exc.status_code) if isinstance(exc, HTTPException) else None
        if handler is None:
            handler = next((by_class[cls] for cls in type(exc).__mro__ if cls in by_class), None)
        return handler


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
