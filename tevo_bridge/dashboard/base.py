"""The operator dashboard's shared parts: where it is mounted, what it needs of its host, and ``Dashboard``, the
one object every page works through (sessions, templates, forms).

The dashboard is a FastAPI app of server-rendered pages, mounted at ``PREFIX`` on the admin listener.

It reads the daemon's own store through the store thread (``AsyncStore``), with bounded, indexed
queries, so looking never holds up intake; its two actions (Retry, mark resolved) are the store's
``retry_order`` and ``resolve_order``, the same calls as ``tevo-bridge orders retry``. Pages work
without JavaScript; htmx (vendored under ``static/``) only refreshes the overview in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tevo_bridge.config import Settings
from tevo_bridge.dashboard.auth import LoginLimiter, PasswordChecks, Session, Sessions, csrf_ok
from tevo_bridge.dashboard.throttle import Throttle
from tevo_bridge.dashboard.timefmt import Clock
from tevo_bridge.log import get_logger
from tevo_bridge.proxies import client_of, is_trusted, peer_of
from tevo_bridge.seams import BudgetedPos, Ticking
from tevo_bridge.store import AsyncStore

PREFIX = "/dashboard"  # where the admin listener mounts the dashboard
log = get_logger(__name__)

MAX_FORM_BYTES = 16 * 1024


class DashboardHost(Protocol):
    """What the dashboard needs of the daemon's ``Runtime`` (or of ``StoreOnlyHost`` without a daemon)."""

    # Read-only properties, so that the daemon's narrower types (and the seams' protocols) satisfy them.
    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> AsyncStore: ...
    @property
    def pos(self) -> BudgetedPos | None: ...  # the PluginHost, or None when no daemon runs
    @property
    def worker(self) -> Ticking | None: ...

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
        self.sessions = Sessions(self.settings.session_secret.get_secret_value(), self.settings.session_hours * 3600,
                                 self.settings.auth, self.settings.password_hash.get_secret_value())
        self.limiter = LoginLimiter()
        self.passwords = PasswordChecks()
        self.throttle = Throttle()
        self.trusted_proxies = host.settings.server.trusted_proxies
        self.clock = Clock(self.settings.time_zone)
        self.env = Environment(loader=PackageLoader("tevo_bridge.dashboard", "templates"),
                               autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(when=self.clock.when, ago=self.clock.ago)
        self.env.globals.update(prefix=PREFIX)

    # -- who is asking -----------------------------------------------------------------------------

    async def visit(self, request: Request, *, login_required: bool = True) -> Visit:
        """The request's session, or ``Denied``: the login page (password), 401 (proxy without its header)."""
        session = await self.session_of(request)
        mode = self.settings.auth
        if mode == "none":
            user = f"operator at {client_of(request)}"
        elif mode == "proxy":
            user = self.proxy_user(request)
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

    async def session_of(self, request: Request) -> Session | None:
        """The cookie's session unless it is invalid or was logged out (the store says, for every replica)."""
        session = self.sessions.load(request.cookies.get(Sessions.COOKIE))
        if session is not None and await self.host.store.session_revoked(session.sid):
            return None
        return session

    def proxy_user(self, request: Request) -> str:
        """The user the reverse proxy names: believed only from a ``[server] trusted_proxies`` peer, and only once."""
        header = self.settings.proxy_user_header
        values = request.headers.getlist(header)
        if not is_trusted(peer_of(request), self.trusted_proxies):
            problem = f"this request did not come through a trusted proxy ([server] trusted_proxies), so its " \
                      f"{header} header is not believed."
        elif len(values) > 1:
            problem = f"the request named the user in {len(values)} {header} headers; exactly one is needed."
        else:
            user = values[0].strip() if values else ""
            if user and len(user) <= 100 and user.isprintable():
                return user
            problem = f"the reverse proxy did not name a user in the {header} header."
        raise Denied(self.page(request, None, "error.html", status=401, title="Not signed in",
                               message=problem[0].upper() + problem[1:]))

    def set_cookie(self, request: Request, response: Response, session: Session | None) -> None:
        secure = request.url.scheme == "https"  # X-Forwarded-Proto counted only from a trusted proxy (proxies.py)
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
            client = client_of(request)
            suppressed = self.throttle.note("csrf_refused", client)
            if suppressed is not None:
                log.warning("dashboard.csrf_refused", path=request.url.path, client=client, suppressed=suppressed,
                            window_seconds=self.throttle.window)
                await self.host.store.audit("dashboard_csrf_refused", reason=f"a stale or missing form token from "
                                            f"{client}", details={"client": client, "path": request.url.path,
                                                                  "suppressed": suppressed})
            raise Denied(self.page(request, visit, "error.html", status=403, title="Refused",
                                   message="The form's security token was missing or stale: reload the page and "
                                           "try again."))
        return fields
