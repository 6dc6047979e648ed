"""The pages a broker uses all day (issue 21): search from every page, "Retry all" for one fixed cause, the
"to ship / to hand over" list with the airbills to print, and the order list as CSV.

Each reads the store through the same bounded calls as the other pages and acts only through the store's own
``retry_order`` (the single Retry's and ``tevo-bridge orders retry``'s path), behind the same login and CSRF.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from tevo_bridge.cli_views import note, order_view
from tevo_bridge.dashboard import export, handover
from tevo_bridge.dashboard.base import PREFIX, Dashboard
from tevo_bridge.dashboard.cards import event_of
from tevo_bridge.dashboard.causes import BY_KEY, Cause, cause_of
from tevo_bridge.dashboard.pages import REVIEW_LIMIT, parse_filters, parse_id
from tevo_bridge.log import get_logger
from tevo_bridge.store import OrderQuery, OrderRow

log = get_logger(__name__)

SEARCH_LIMIT = 100
HANDOVER_LIMIT = 200
#: Orders read per store call while a CSV streams: each call is one indexed page, so intake never waits long.
EXPORT_CHUNK = 500
#: The most orders one CSV holds: a bound on one download's store time; narrow the filters for more.
EXPORT_LIMIT = 100_000


def add_routes(app: FastAPI, dash: Dashboard) -> None:
    store = dash.host.store

    @app.get("/search", include_in_schema=False)
    async def search(request: Request) -> Response:
        visit = await dash.visit(request)
        text = (request.query_params.get("q") or "").strip()
        if len(text) > 100 or not text.isprintable():
            raise HTTPException(400, "The search is too long (100 characters at most) or holds characters it cannot.")
        if text.isascii() and text.isdigit() and len(text) <= 18 and await store.get_order(int(text)) is not None:
            return RedirectResponse(f"{PREFIX}/orders/{int(text)}", status_code=303)  # a TEvo id: straight there
        rows = await store.find_orders(text, SEARCH_LIMIT + 1) if text else []
        return dash.page(request, visit, "search.html", q=text, orders=[_card(r) for r in rows[:SEARCH_LIMIT]],
                         more=len(rows) > SEARCH_LIMIT, limit=SEARCH_LIMIT)

    @app.get("/orders.csv", include_in_schema=False)
    async def orders_csv(request: Request) -> Response:
        await dash.visit(request)
        query, _ = parse_filters(request, dash)

        async def body() -> AsyncIterator[str]:
            yield "\ufeff" + export.csv_text([], header=True)  # the BOM: spreadsheets then read UTF-8 names right
            before, sent = query.before_id, 0
            while sent < EXPORT_LIMIT:
                rows = await store.search_orders(_page(query, before), min(EXPORT_CHUNK, EXPORT_LIMIT - sent))
                if not rows:
                    return
                yield export.csv_text(rows)
                sent += len(rows)
                before = rows[-1].id

        stamp = datetime.now(dash.clock.zone).strftime("%Y%m%d-%H%M")
        return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="tevo-orders-{stamp}.csv"', "Cache-Control": "no-store"})

    @app.get("/review/retry-all", include_in_schema=False)
    async def retry_all_form(request: Request) -> Response:
        visit = await dash.visit(request)
        cause = _cause(request.query_params.get("cause"))
        orders = await _stuck_for(cause)
        return dash.page(request, visit, "retry_all.html", cause=cause, orders=orders,
                         ids=",".join(str(o["id"]) for o in orders))

    @app.post("/review/retry-all", include_in_schema=False)
    async def retry_all(request: Request) -> Response:
        visit = await dash.visit(request)
        fields = await dash.form(request, visit)
        cause = _cause(fields.get("cause"))
        confirmed = {parse_id(part, "order id") for part in (fields.get("orders") or "").split(",") if part}
        # Only what the person saw and what still waits for this cause: an order retried or resolved meanwhile,
        # or stuck now for another reason, is left alone.
        still = {o["id"] for o in await _stuck_for(cause)}
        retried: list[int] = []
        skipped = sorted(confirmed - still)
        for oid in sorted(confirmed & still):
            outcome = await store.retry_order(oid, reason=f"retry all ({cause.key}) from the dashboard by {visit.user}")
            (retried if outcome == "queued" else skipped).append(oid)
        await store.audit("dashboard_retry_all", reason=f"{visit.user} retried {len(retried)} orders stuck because: "
                          f"{cause.label}", details={"by": visit.user, "cause": cause.key, "retried": retried,
                                                     "skipped": skipped})
        log.info("dashboard.retry_all", cause=cause.key, retried=retried, skipped=skipped, by=visit.user)
        dash.host.wake()
        return RedirectResponse(f"{PREFIX}/review?msg=retried_all", status_code=303)

    @app.get("/handover", include_in_schema=False)
    async def handover_page(request: Request) -> Response:
        visit = await dash.visit(request)
        pickup = dash.host.settings.fulfillment.local_pickup
        entries = [handover.entry(row, await store.audit_trail(row.id), pickup)
                   for row in await store.handover_orders(HANDOVER_LIMIT)]
        return dash.page(request, visit, "handover.html", limit=HANDOVER_LIMIT,
                         ship=[e for e in entries if e["airbills"]], hand=[e for e in entries if e["pickups"]])

    @app.get("/handover/{order_id}/airbill/{shipment_id}.pdf", include_in_schema=False)
    async def airbill(request: Request, order_id: str, shipment_id: str) -> Response:
        await dash.visit(request)
        oid, sid = parse_id(order_id, "order id"), parse_id(shipment_id, "shipment id")
        path = handover.airbill_path(await store.audit_trail(oid), sid, dash.host.settings.fulfillment.airbill_dir)
        if path is None:
            raise HTTPException(404, f"No airbill of order {oid}, shipment {sid} is saved in [fulfillment] "
                                     "airbill_dir: print it from TEvo.")
        return FileResponse(path, media_type="application/pdf", filename=f"airbill-{oid}-{sid}.pdf",
                            content_disposition_type="inline", headers={"Cache-Control": "no-store"})

    async def _stuck_for(cause: Cause) -> list[dict[str, object]]:
        return [o for o in await review_orders(dash) if o["cause"] == cause]


async def review_orders(dash: Dashboard) -> list[dict[str, object]]:
    """The needs_review orders, longest waiting first, each with its reason and the cause class it falls in."""
    rows = await dash.host.store.search_orders(OrderQuery(state="needs_review"), REVIEW_LIMIT)
    orders = []
    for row in sorted(rows, key=lambda r: r.updated_at):
        reason = note(order_view(row)) or "no reason was recorded"
        orders.append({"id": row.id, "reason": reason, "cause": cause_of(reason), "waited": row.updated_at})
    return orders


def _cause(key: str | None) -> Cause:
    if key not in BY_KEY:
        raise HTTPException(400, f"Unknown cause {key!r}: one of {', '.join(BY_KEY)}.")
    return BY_KEY[key]


def _page(query: OrderQuery, before: int | None) -> OrderQuery:
    return replace(query, before_id=before)


def _card(row: OrderRow) -> dict[str, object]:
    """A search result: the order as the list shows it, with its buyer and first event from the snapshot."""
    return dict(order_view(row), **event_of(row))
