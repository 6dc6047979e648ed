"""What a dashboard page costs the store thread, against what one webhook's durable commit costs it.

The dashboard reads through the daemon's one store thread, so while a page's queries run, an
intake call waits behind them. The store is a large seller's: 50,000 orders (a tenth of them
open, 200 in needs_review) with 12 audit rows each spread over 30 days (so about 20,000 in the
last 24 hours, which the chart reads) and 5,000 holds. Each page's store calls (exactly those its
route makes) are timed on the ``SqliteStore`` itself, the median of several runs. The baseline is
``record_event`` on the same store: the one transaction a webhook commits (with fsync) before it
is answered. The ratio says how many webhook commits' worth of store time a page takes.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Figure

PAGES: dict[str, Callable[[Any], Any]] = {}


def _page(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        PAGES[name] = fn
        return fn
    return register


def _since(hours: int) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@_page("overview")
def _overview(store: Any) -> None:
    store.stats()
    store.order_activity(_since(24))
    store.oldest_open_order()


@_page("needs review")
def _review(store: Any) -> None:
    from tevo_bridge.store import OrderQuery

    store.search_orders(OrderQuery(state="needs_review"), 200)


@_page("orders, a later page filtered by channel")
def _orders(store: Any) -> None:
    from tevo_bridge.store import OrderQuery

    store.search_orders(OrderQuery(source="poll", before_id=30_000), 51)


@_page("orders, a buyer type no order has (worst case: walks every order)")
def _no_match(store: Any) -> None:
    from tevo_bridge.store import OrderQuery

    store.search_orders(OrderQuery(buyer_type="Nobody"), 51)


@_page("orders, by POS invoice id")
def _invoice(store: Any) -> None:
    from tevo_bridge.store import OrderQuery

    store.search_orders(OrderQuery(invoice_id="INV-12345"), 51)


@_page("one order")
def _order(store: Any) -> None:
    store.get_order(12345)
    store.audit_trail(12345)
    store.hold_for_order(12345)


@_page("holds")
def _holds(store: Any) -> None:
    for state in ("pending", "held", "released", "expired", "failed", "invoiced"):
        store.list_holds(state, 100)


def _fill(path: Path, orders: int) -> None:
    """Rows written with plain SQL (fast), shaped as the daemon writes them."""
    import sqlite3

    rng = random.Random(14)
    now = datetime.now(UTC)
    conn = sqlite3.connect(path)

    def at(seconds_ago: float) -> str:
        return (now - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    order_rows, audit_rows = [], []
    states = ["done"] * 80 + ["rejected"] * 8 + ["canceled"] * 2 + ["awaiting_tickets"] * 9 + ["checking"]
    for oid in range(1, orders + 1):
        age = (orders - oid) / orders * 30 * 86400 + rng.random() * 60
        recent = oid > orders * 0.97  # what is still in the pipeline arrived lately; needs_review lingers
        state = "needs_review" if oid % (orders // 200) == 0 else (rng.choice(states) if recent else "done")
        order_rows.append((oid, state, "accepted", "Office", 6, f"INV-{oid}", at(age), at(age), at(age),
                           rng.choice(["webhook", "poll", "order_integration"]), json.dumps({"id": oid})))
        for step in range(12):
            to = ["checking", "accepting", "invoicing", "fulfilling", "done"][step % 5]
            audit_rows.append((oid, at(age - step), "transition", "new", to, "benchmark"))
    conn.executemany("INSERT INTO orders (id, state, seller_state, buyer_type, buyer_id, invoice_id, first_seen_at, "
                     "updated_at, created_at, source, snapshot) VALUES (?,?,?,?,?,?,?,?,?,?,?)", order_rows)
    conn.executemany("INSERT INTO audit (order_id, at, action, from_state, to_state, reason) VALUES (?,?,?,?,?,?)",
                     audit_rows)
    holds = [(f"g{n}", str(n % 500), 2, "held" if n % 50 == 0 else rng.choice(["invoiced", "released", "expired"]),
              at(n * 500), at(-900), at(n * 500)) for n in range(orders // 10)]
    conn.executemany("INSERT INTO holds (global_id, remote_id, quantity, state, created_at, expires_at, updated_at) "
                     "VALUES (?,?,?,?,?,?,?)", holds)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def run(tmp: Path, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    from tevo_bridge.store import Event, SqliteStore

    tmp.mkdir(parents=True, exist_ok=True)
    orders = 5_000 if quick else 50_000
    repeat = 5 if quick else 21
    path = tmp / "state.sqlite3"
    SqliteStore(path).close()  # the schema
    _fill(path, orders)
    store = SqliteStore(path)
    counter = iter(range(10**9))

    def webhook() -> None:
        n = next(counter)
        store.record_event(Event("webhook", "order_created", f"bench:{n}", "{}", order_id=10**7 + n))

    raw: dict[str, Any] = {"orders": orders, "audit_rows": store.count("audit"), "holds": store.count("holds"),
                           "webhook_commit_ms": _median_ms(webhook, repeat), "pages_ms": {}}
    for name, page in PAGES.items():
        raw["pages_ms"][name] = _median_ms(lambda page=page: page(store), repeat)
    store.close()
    return figures(raw), raw


def figures(raw: dict[str, Any]) -> list[Figure]:
    base = raw["webhook_commit_ms"]
    note = (f"{raw['orders']:,} orders, {raw['audit_rows']:,} audit rows, {raw['holds']:,} holds; store thread "
            "time per page view (median)")
    return [Figure(f"dashboard {name}: store time", ms, "ms", base, "one webhook's durable commit",
                   target="< 20 ms", met=ms < 20, note=note)
            for name, ms in raw["pages_ms"].items()]
