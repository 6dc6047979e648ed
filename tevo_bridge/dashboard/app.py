"""The operator dashboard: a FastAPI app of server-rendered pages, mounted at ``/dashboard`` on the admin listener.

It reads the daemon's own store through the store thread (``AsyncStore``), with bounded, indexed
queries, so looking never holds up intake; its two actions (Retry, mark resolved) are the store's
``retry_order`` and ``resolve_order``, the same calls as ``tevo-bridge orders retry``. Pages work
without JavaScript; htmx (vendored under ``static/``) only refreshes the overview in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tevo_bridge.config import Settings
from tevo_bridge.dashboard import pages
from tevo_bridge.dashboard.auth import LoginLimiter, Session, Sessions, csrf_ok
from tevo_bridge.dashboard.pages import PREFIX
from tevo_bridge.dashboard.timefmt import Clock
from tevo_bridge.log import get_logger
from tevo_bridge.store import AsyncStore

log = get_logger(__name__)

MAX_FORM_BYTES = 16 * 1024
STATIC = Path(__file__).parent / "static"


class DashboardHost(Protocol):
    """What the dashboard needs of the daemon's ``Runtime`` (or of ``StoreOnlyHost`` without a daemon)."""

    # Read-only properties, so that the daemon's narrower types (and the seams' protocols) satisfy them.
    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> AsyncStore: ...
    @property
    def pos(self) -> Any: ...  # the PluginHost, or None when no daemon runs
    @property
    def worker(self) -> Any: ...  # has ``last_tick`` (monotonic), or None

    def wake(self) -> None: ...

    def pos_trouble(self) -> str | None: ...


class Denied(Exception):
    """Answer with ``response`` instead of the page (a redirect to the login, a 401, a 403)."""

    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass
class Visit:
    """One request's session: who, their CSRF token, and whether the cookie must be (re)sent."""

    session: Session
    fresh: bool

    @property
    def user(self) -> str:
        return self.session.user or ""


class Dashboard:
    def __init__(self, host: DashboardHost) -> None:
        self.host = host
        self.settings = host.settings.dashboard
        self.sessions = Sessions(self.settings.session_secret.get_secret_value(), self.settings.session_hours * 3600)
        self.limiter = LoginLimiter()
        self.clock = Clock(self.settings.time_zone)
        self.env = Environment(loader=PackageLoader("tevo_bridge.dashboard", "templates"),
                               autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(when=self.clock.when, ago=self.clock.ago)
        self.env.globals.update(prefix=PREFIX)

    # -- who is asking -----------------------------------------------------------------------------

    def visit(self, request: Request, *, login_required: bool = True) -> Visit:
        """The request's session, or ``Denied``: the login page (password), 401 (proxy without its header)."""
        session = self.sessions.load(request.cookies.get(Sessions.COOKIE))
        mode = self.settings.auth
        if mode == "none":
            user = f"operator at {request.client.host if request.client else 'unknown'}"
        elif mode == "proxy":
            header = (request.headers.get(self.settings.proxy_user_header) or "").strip()
            if not header or len(header) > 100 or not header.isprintable():
                raise Denied(self.page(request, None, "error.html", status=401, title="Not signed in",
                                       message=f"The reverse proxy did not name a user in the "
                                               f"{self.settings.proxy_user_header} header."))
            user = header
        else:
            if session is None or session.user is None:
                if not login_required:
                    return Visit(session or self.sessions.new(None), session is None)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise Denied(RedirectResponse(f"{PREFIX}/login?next={quote(target, safe='')}", status_code=303))
            return Visit(session, False)
        if session is not None and session.user == user:
            return Visit(session, False)
        return Visit(self.sessions.new(user), True)

    def set_cookie(self, request: Request, response: Response, session: Session | None) -> None:
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"
        if session is None:
            response.delete_cookie(Sessions.COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=secure)
            return
        response.set_cookie(Sessions.COOKIE, self.sessions.dump(session), max_age=int(self.sessions.max_age),
                            path=PREFIX, httponly=True, samesite="strict", secure=secure)

    # -- answers -----------------------------------------------------------------------------------

    def page(self, request: Request, visit: Visit | None, template: str, status: int = 200,
             **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            request=request, user=visit.user if visit else "", csrf=visit.session.csrf if visit else "",
            auth=self.settings.auth, tz=self.clock.zone_name, path=request.url.path, **context)
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        if visit is not None and visit.fresh:
            self.set_cookie(request, response, visit.session)
        return response

    async def form(self, request: Request, visit: Visit) -> dict[str, str]:
        """The POSTed form (urlencoded, bounded), after its CSRF token was checked; else ``Denied`` (413, 403)."""
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
            raise Denied(self.page(request, visit, "error.html", status=413, title="Too large",
                                   message="That form was too large."))
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Denied(self.page(request, visit, "error.html", status=413, title="Too large",
                                       message="That form was too large."))
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if not csrf_ok(visit.session, fields.get("csrf")):
            log.warning("dashboard.csrf_refused", path=request.url.path,
                        client=request.client.host if request.client else None)
            raise Denied(self.page(request, visit, "error.html", status=403, title="Refused",
                                   message="The form's security token was missing or stale: reload the page and "
                                           "try again."))
        return fields


def create_dashboard(host: DashboardHost) -> FastAPI:
    """The dashboard app; mount it at ``PREFIX`` (``daemon.build_apps`` does, on the admin listener)."""
    dash = Dashboard(host)
    app = FastAPI(title="tevo-bridge dashboard", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.dashboard = dash
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    pages.add_routes(app, dash)

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        return exc.response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Not allowed", 400: "Bad request", 409: "Not possible"}
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code in (400, 404, 409) else ""
        return dash.page(request, None, "error.html", status=exc.status_code,
                         title=titles.get(exc.status_code, "Error"), message=message or "There is no such page.")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("dashboard.error", path=request.url.path, error=str(exc))
        return dash.page(request, None, "error.html", status=503, title="Unavailable",
                         message="The store did not answer; the daemon's log says why. Try again shortly.")

    return app


__all__ = ["PREFIX", "Dashboard", "DashboardHost", "Denied", "Visit", "create_dashboard"]
