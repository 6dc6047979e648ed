"""The operator dashboard's app (docs/dashboard.md): its pages (``pages``) on a FastAPI app, mounted at ``PREFIX``.

``mount_dashboard`` is how a listener gets it: the daemon's admin app (``intake.app``) and
``tevo-bridge dashboard serve`` both call it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from tevo_bridge.asgi_guard import CrashGuard
from tevo_bridge.dashboard import broker, pages
from tevo_bridge.dashboard.base import PREFIX, Dashboard, DashboardHost, Denied, Visit
from tevo_bridge.intake.http import json_response

STATIC = Path(__file__).parent / "static"


def add_openapi_route(app: FastAPI, document: Callable[[], dict[str, Any]]) -> None:
    """The intake's OpenAPI document behind the dashboard's login (the admin /openapi.json redirects here)."""
    dash: Dashboard = app.state.dashboard

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Response:
        await dash.visit(request)
        return json_response(200, document())


def create_dashboard(host: DashboardHost) -> FastAPI:
    """The dashboard app, to be mounted at ``PREFIX``: ``mount_dashboard`` does."""
    dash = Dashboard(host)
    app = FastAPI(title="tevo-bridge dashboard", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.dashboard = dash
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    pages.add_routes(app, dash)
    broker.add_routes(app, dash)

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        return exc.response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Not allowed", 400: "Bad request", 409: "Not possible"}
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code in (400, 404, 409) else ""
        return dash.page(request, None, "error.html", status=exc.status_code,
                         title=titles.get(exc.status_code, "Error"), message=message or "There is no such page.")

    def crashed(request: Request, exc: Exception) -> Response:
        return dash.page(request, None, "error.html", status=503, title="Unavailable",
                         message="The store did not answer; the daemon's log says why. Try again shortly.")

    # Not an Exception handler: ServerErrorMiddleware re-raises after it, and the connection is reset.
    app.add_middleware(CrashGuard, answer=crashed, event="dashboard.error")

    return app


def mount_dashboard(app: FastAPI, host: DashboardHost) -> FastAPI:
    """The operator dashboard at /dashboard (docs/dashboard.md), and / sends a browser there."""
    dash_app = create_dashboard(host)
    app.mount(PREFIX, dash_app)

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse(PREFIX + "/", status_code=307)

    return dash_app


__all__ = ["PREFIX", "Dashboard", "DashboardHost", "Denied", "Visit", "add_openapi_route", "create_dashboard",
           "mount_dashboard"]
