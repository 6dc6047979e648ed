"""The dashboard's routes: overview, needs review, orders, one order, holds, plugin and config; login, actions."""

from __future__ import annotations

import json
import time
from datetime import date

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from tevo_bridge import __version__
from tevo_bridge.cli_views import audit_move, note, order_view
from tevo_bridge.dashboard import causes, figures
from tevo_bridge.dashboard.base import PREFIX, Dashboard, Visit
from tevo_bridge.dashboard.cards import event_of
from tevo_bridge.dashboard.charts import SERIES, bar_chart, hourly
from tevo_bridge.log import get_logger
from tevo_bridge.proxies import client_of
from tevo_bridge.store import ORDER_STATES, TERMINAL_STATES, OrderQuery
from tevo_bridge.store.vocabulary import SCHEMA_VERSIONS

log = get_logger(__name__)

CHANNELS = ("webhook", "order_integration", "poll", "operator")
MAX_ID = 2**63 - 1
MAX_ID_DIGITS = len(str(MAX_ID))
#: The dates a filter may name: orders exist only in between, and the bounds keep day arithmetic in range.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
REVIEW_LIMIT = 200
HOLDS_LIMIT = 100
#: ?msg= codes a redirect after an action may carry: fixed texts, so nothing from the URL is echoed into a page.
MESSAGES = {
    "retried": "Queued again: the daemon picks it up within a second and continues from what TEvo and the POS say.",
    "retried_no_daemon": "Queued again: a daemon running on this store picks it up when it runs.",
    "resolved": "Marked resolved; your note is in its history.",
    "retried_all": "Queued again, each order on its own: the daemon continues each from what TEvo and the POS say.",
}


def add_routes(app: FastAPI, dash: Dashboard) -> None:
    store = dash.host.store

    @app.get("/", include_in_schema=False)
    async def overview(request: Request) -> Response:
        visit = await dash.visit(request)
        stats = await store.stats()  # orders, jobs and holds by state in one call
        counts = stats.orders
        activity = await store.order_activity(figures.hours_ago(24))
        oldest = await store.oldest_open_order()
        hours = hourly(activity, figures.now_utc())
        template = "overview_body.html" if request.headers.get("hx-request") else "overview.html"
        return dash.page(
            request, visit, template, counts=ordered_counts(counts), review=counts.get("needs_review", 0),
            chart=bar_chart(hours, dash.clock.hour_label), series=SERIES,
            totals={key: sum(h.counts.get(key, 0) for h in hours) for key, _, _ in SERIES},
            holds=figures.hold_answers(stats.holds), latency=figures.hold_latency(),
            oldest=order_view(oldest) if oldest else None,
            health=figures.health(dash.host, await figures.pos_health(dash.host)),
            version=__version__, backend=store.sync.backend, schema=SCHEMA_VERSIONS[store.sync.backend])

    @app.get("/review", include_in_schema=False)
    async def review(request: Request) -> Response:
        visit = await dash.visit(request)
        rows = await store.search_orders(OrderQuery(state="needs_review"), REVIEW_LIMIT)
        orders = []
        for row in sorted(rows, key=lambda r: r.updated_at):  # longest waiting first
            view = order_view(row)
            reason = note(view) or "no reason was recorded"
            orders.append(dict(view, reason=reason, advice=figures.advice(reason), waited=row.updated_at))
        return dash.page(request, visit, "review.html", orders=orders, limit=REVIEW_LIMIT,
                         groups=causes.groups([o["reason"] for o in orders]),
                         message=MESSAGES.get(request.query_params.get("msg", "")))

    @app.get("/orders", include_in_schema=False)
    async def orders(request: Request) -> Response:
        visit = await dash.visit(request)
        query, form = parse_filters(request, dash)
        size = dash.settings.page_size
        rows = await store.search_orders(query, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        keep = {k: v for k, v in form.items() if v}
        older = dict(keep, before=str(rows[-1].id)) if more and rows else None
        return dash.page(request, visit, "orders.html", orders=[order_view(r) for r in rows], form=form,
                         events={r.id: event_of(r) for r in rows},
                         states=ORDER_STATES, channels=CHANNELS, older=older, paged=query.before_id is not None,
                         first_page=keep)

    @app.get("/orders/{order_id}", include_in_schema=False)
    async def order(request: Request, order_id: str) -> Response:
        visit = await dash.visit(request)
        oid = parse_id(order_id, "order id")
        row = await store.get_order(oid)
        if row is None:
            raise HTTPException(404, f"Order {oid} is not in the store.")
        trail = await store.audit_trail(oid)
        hold = await store.hold_for_order(oid)
        snapshot = row.snapshot_json() or {}
        timeline = [{"at": a.at, "move": audit_move(a.action, a.from_state, a.to_state), "reason": a.reason,
                     "details": figures.details(a.details), "transition": a.to_state is not None} for a in trail]
        return dash.page(request, visit, "order.html", order=order_view(row), row=row, snapshot=snapshot,
                         items=figures.items(snapshot, trail), buyer=figures.buyer(snapshot),
                         shipments=figures.shipments(snapshot), hold=hold, timeline=timeline,
                         snapshot_json=json.dumps(snapshot, indent=2, sort_keys=True) if snapshot else "",
                         message=MESSAGES.get(request.query_params.get("msg", "")),
                         terminal=row.state in TERMINAL_STATES)

    @app.post("/orders/{order_id}/retry", include_in_schema=False)
    async def retry(request: Request, order_id: str) -> Response:
        visit = await dash.visit(request)
        fields = await dash.form(request, visit)
        oid = parse_id(order_id, "order id")
        outcome = await store.retry_order(oid, reason=f"retry from the dashboard by {visit.user}")
        if outcome == "unknown":
            raise HTTPException(404, f"Order {oid} is not in the store.")
        if outcome == "terminal":
            row = await store.get_order(oid)
            raise HTTPException(409, f"Order {oid} is {row.state if row else 'finished'}: a retry would change "
                                     "nothing (a done order's delivery runs again with `tevo-bridge orders retry "
                                     "--redeliver`).")
        log.info("dashboard.retry", order_id=oid, by=visit.user)
        dash.host.wake()
        code = "retried" if dash.host.worker is not None else "retried_no_daemon"
        return back(fields, oid, code)

    @app.post("/orders/{order_id}/resolve", include_in_schema=False)
    async def resolve(request: Request, order_id: str) -> Response:
        visit = await dash.visit(request)
        fields = await dash.form(request, visit)
        oid = parse_id(order_id, "order id")
        text = " ".join((fields.get("note") or "").split())
        if not text or len(text) > 1000 or not text.isprintable():
            raise HTTPException(400, "Mark resolved needs a note (up to 1000 characters, no control characters) "
                                     "saying what was done by hand: it goes into the order's history.")
        outcome = await store.resolve_order(oid, text, visit.user)
        if outcome == "unknown":
            raise HTTPException(404, f"Order {oid} is not in the store.")
        if outcome == "not_in_review":
            raise HTTPException(409, f"Order {oid} is not in needs_review: only an order waiting for a person can "
                                     "be marked resolved.")
        log.info("dashboard.resolved", order_id=oid, by=visit.user)
        return back(fields, oid, "resolved")

    @app.get("/holds", include_in_schema=False)
    async def holds(request: Request) -> Response:
        visit = await dash.visit(request)
        active = [h for state in ("pending", "held") for h in await store.list_holds(state, HOLDS_LIMIT)]
        active = sorted((h for h in active if h.closed_as() is None), key=lambda h: h.expires_at)
        closed = [h for state in ("released", "expired", "failed", "invoiced")
                  for h in await store.list_holds(state, HOLDS_LIMIT)]
        closed = sorted(closed, key=lambda h: h.updated_at, reverse=True)[:HOLDS_LIMIT]
        return dash.page(request, visit, "holds.html", active=active, closed=closed, now=time.time(),
                         expires_in=figures.seconds_until)

    @app.get("/system", include_in_schema=False)
    async def system(request: Request) -> Response:
        visit = await dash.visit(request)
        return dash.page(request, visit, "system.html", plugin=figures.plugin(dash.host),
                         health=figures.health(dash.host, await figures.pos_health(dash.host)),
                         config=figures.masked_config(dash.host.settings),
                         version=__version__, backend=store.sync.backend,
                         schema=SCHEMA_VERSIONS[store.sync.backend])

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        if dash.settings.auth != "password":
            return RedirectResponse(f"{PREFIX}/", status_code=303)
        visit = await dash.visit(request, login_required=False)
        return dash.page(request, visit, "login.html", next=safe_next(request.query_params.get("next")))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if dash.settings.auth != "password":
            return RedirectResponse(f"{PREFIX}/", status_code=303)
        visit = await dash.visit(request, login_required=False)
        fields = await dash.form(request, visit)
        client = client_of(request)
        target = safe_next(fields.get("next"))
        wait = dash.limiter.attempt(client)
        if wait:
            return refused(request, visit, target, 429, wait,
                           f"Too many wrong passwords (from this address, or from all together): try again in "
                           f"{wait} seconds.")
        name = " ".join((fields.get("name") or "").split())[:60]
        if not name.isprintable():  # NUL, escapes: the store (PostgreSQL) and the audit trail take no controls
            name = ""
        matches = await dash.passwords.verify(fields.get("password") or "",
                                              dash.settings.password_hash.get_secret_value())
        if matches is None:
            return refused(request, visit, target, 503, 1, "The dashboard is busy checking other logins: try again "
                                                           "in a second.")
        if not name or not matches:
            await note_refused(client, name)
            return dash.page(request, visit, "login.html", status=401, next=target, name=name,
                             error="Wrong password (or no name given)." if name else "Give your name for the "
                                   "audit trail, and the password.")
        dash.limiter.succeeded(client)
        session = dash.sessions.new(name)
        log.info("dashboard.login", user=name, client=client)
        await dash.host.store.audit("dashboard_login", reason=f"{name} logged in from {client}",
                                    details={"by": name, "client": client})
        response = RedirectResponse(target, status_code=303)
        dash.set_cookie(request, response, session)
        return response

    def refused(request: Request, visit: Visit, target: str, status: int, wait: int, error: str) -> Response:
        response = dash.page(request, visit, "login.html", status=status, next=target, error=error)
        response.headers["Retry-After"] = str(wait)
        return response

    async def note_refused(client: str, name: str) -> None:
        """Logged and audited once per minute per address, with how many were left out (a flood fills nothing)."""
        suppressed = dash.throttle.note("login_refused", client)
        if suppressed is None:
            return
        log.warning("dashboard.login_refused", client=client, suppressed=suppressed,
                    window_seconds=dash.throttle.window)
        await dash.host.store.audit("dashboard_login_refused", reason=f"a wrong password from {client}",
                                    details={"name": name, "client": client, "suppressed": suppressed})

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        visit = await dash.visit(request)
        await dash.form(request, visit)
        await dash.host.store.revoke_session(visit.session.sid, dash.sessions.revoked_until())
        log.info("dashboard.logout", user=visit.user)
        await dash.host.store.audit("dashboard_logout", reason=f"{visit.user} logged out", details={"by": visit.user})
        response = RedirectResponse(f"{PREFIX}/login" if dash.settings.auth == "password"
                                    else f"{PREFIX}/", status_code=303)
        dash.set_cookie(request, response, None)
        return response


def safe_next(target: str | None) -> str:
    """Only a dashboard path: a login must never redirect to another site."""
    if target and target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target \
            and target.isprintable() and len(target) < 2000:
        return target
    return PREFIX + "/"


def back(fields: dict[str, str], order_id: int, code: str) -> Response:
    """After an action: to the page it was taken from (needs review or the order), with a fixed message."""
    where = f"{PREFIX}/review" if fields.get("from") == "review" else f"{PREFIX}/orders/{order_id}"
    return RedirectResponse(f"{where}?msg={code}", status_code=303)


def ordered_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """needs_review first (the one that asks for a person), then the pipeline's order; unknown states last."""
    known = ["needs_review", *[s for s in ORDER_STATES if s != "needs_review"]]
    return [(s, counts.get(s, 0)) for s in known] + [(s, n) for s, n in sorted(counts.items()) if s not in known]


def parse_id(text: str | None, what: str) -> int:
    # Length first: int() refuses over 4,300 digits with a ValueError (a crash, not a 400).
    if (text is None or len(text.strip()) > MAX_ID_DIGITS or not text.strip().isdigit() or not text.strip().isascii()
            or int(text) > MAX_ID):
        raise HTTPException(400, f"The {what} must be a whole number.")
    return int(text)


def parse_day(text: str, what: str) -> date | None:
    """A filter date, within FIRST_DAY..LAST_DAY: the end of day 9999-12-31 is past ``date.max`` (a crash)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"The date {what!r} must look like 2026-11-29.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise HTTPException(400, f"The date {what!r} must be between {FIRST_DAY} and {LAST_DAY}.")
    return day


def parse_filters(request: Request, dash: Dashboard) -> tuple[OrderQuery, dict[str, str]]:
    """The order search's query string, checked: a bad value is a 400 naming the field, never a 500."""
    params = request.query_params
    form = {key: (params.get(key) or "").strip() for key in
            ("state", "channel", "buyer", "from", "to", "order", "invoice")}
    for key, value in form.items():
        if len(value) > 100 or not value.isprintable():
            raise HTTPException(400, f"The filter {key!r} is too long or holds characters it cannot.")
    if form["state"] and form["state"] not in ORDER_STATES:
        raise HTTPException(400, f"Unknown state {form['state']!r}: one of {', '.join(ORDER_STATES)}.")
    if form["channel"] and form["channel"] not in CHANNELS:
        raise HTTPException(400, f"Unknown channel {form['channel']!r}: one of {', '.join(CHANNELS)}.")
    days = {key: parse_day(form[key], key) for key in ("from", "to")}
    before = params.get("before")
    query = OrderQuery(
        state=form["state"] or None, source=form["channel"] or None, buyer_type=form["buyer"] or None,
        seen_from=dash.clock.day_start(days["from"]) if days["from"] else None,
        seen_until=dash.clock.day_start(days["to"], end=True) if days["to"] else None,
        order_id=parse_id(form["order"], "TEvo order id") if form["order"] else None,
        invoice_id=form["invoice"] or None,
        before_id=parse_id(before, "page cursor") if before else None)
    return query, form


__all__ = ["PREFIX", "add_routes", "parse_filters", "safe_next"]
