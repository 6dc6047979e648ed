"""What every reliability run must end with, counted the same way for the CI and the full variants.

A run creates a mix of orders through the sandbox's buyer driver, tortures the
daemon somehow, and then hands the orders to ``tally``.  The invariants:

- no order lost: every order TEvo created ends settled in the daemon's store, in the
  state its scenario expects (``Scenario.expected``);
- no double accept: each accepted order got exactly one accept call at the sandbox
  (Order Integration orders arrive accepted: none), each rejected one exactly one reject;
- no double invoice: one POS invoice per sold order, none for a rejected one;
- no e-ticket page delivered twice: each finalized item carries exactly ``quantity``
  pages, all different;
- no hold left active, in the POS or in the daemon's store.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tevo_bridge.sandbox.driver import DriverOrder
from tevo_bridge.sandbox.inspection import delivered_page_texts
from tevo_bridge.sandbox.scenarios import Scenario
from tevo_bridge.sandbox.server import Sandbox

SETTLED = frozenset({"done", "rejected", "canceled", "needs_review"})
LOCAL_STATE = {"completed": "done", "accepted": "done", "rejected": "rejected"}  # TEvo's final -> the daemon's

# Weights of the mix: mostly sales that succeed, every refusal path, every fulfilment kind, Order Integration.
MIX: dict[Scenario, int] = {
    Scenario.OFFICE_ETICKET: 6, Scenario.CLIENT_FRAUD_APPROVED: 2, Scenario.CLIENT_FRAUD_DECLINED: 1,
    Scenario.MULTI_ITEM: 2, Scenario.FEDEX: 2, Scenario.LOCAL_PICKUP: 1, Scenario.TBD_MOBILE: 2,
    Scenario.PAGE_SELECTION: 1, Scenario.OUT_OF_STOCK: 1, Scenario.UNDERPRICED: 1, Scenario.OI_INVOICE: 4,
    Scenario.OI_RELEASE: 1, Scenario.OI_OUT_OF_STOCK: 1,
}


def mixed_scenarios(count: int, seed: int) -> list[Scenario]:
    rng = random.Random(seed)
    population, weights = zip(*MIX.items(), strict=True)
    return rng.choices(population, weights, k=count)


@contextmanager
def pos_sections(pos: str, inventory: list[Any], tmp: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The POS a run uses: the SQLite sample (no extra settings), or ``skybox``: the SkyBox plugin against a
    SkyBox simulator seeded with the same listings, and the config sections that select it."""
    if pos == "sqlite":
        yield None, {}
        return
    from tevo_bridge_skybox_pos.simulator import running

    from tevo_bridge.sandbox.mirror import mirror_inventory

    with running(rows=mirror_inventory(inventory, tmp / "skybox-tickets")) as skybox:
        yield skybox, {"pos": {"plugin": "skybox_pos"}, "plugins": {"skybox_pos": skybox.plugin_settings()}}


def inventory_groups(count: int) -> int:
    """Listings enough for ``count`` orders of the mix (each sale takes up to 4 seats of 4 to 8)."""
    return max(40, count + count // 2)


@dataclass
class Tally:
    orders: int = 0  # orders TEvo created
    no_order: int = 0  # Order Integration holds that ended without an order (released, refused, failed)
    states: Counter[str] = field(default_factory=Counter)
    as_expected: int = 0
    lost: int = 0  # not settled, or settled in a state other than expected
    double_accepts: int = 0
    double_rejects: int = 0
    double_invoices: int = 0
    missing_invoices: int = 0
    duplicate_pages: int = 0
    pages_delivered: int = 0
    active_holds: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.double_accepts or self.double_rejects or self.double_invoices
                    or self.missing_invoices or self.duplicate_pages or self.active_holds)

    def figures(self) -> dict[str, Any]:
        return {"orders": self.orders, "oi_without_order": self.no_order, "as_expected": self.as_expected,
                "states": dict(sorted(self.states.items())), "lost": self.lost,
                "double_accepts": self.double_accepts, "double_rejects": self.double_rejects,
                "double_invoices": self.double_invoices, "missing_invoices": self.missing_invoices,
                "duplicate_pages": self.duplicate_pages, "pages_delivered": self.pages_delivered,
                "active_holds": self.active_holds}

    def report(self) -> str:
        lines = [f"{k}: {v}" for k, v in self.figures().items()]
        return "\n".join(lines + self.problems[:40])


class View:
    """Read-only looks at the three parties after (or during) a run."""

    def __init__(self, sandbox: Sandbox, store_db: Path | str, pos_db: Path, skybox: Any = None) -> None:
        """``store_db``: the daemon's SQLite file, or its PostgreSQL URL (replicas)."""
        self.sandbox = sandbox
        self.store_db = store_db
        self.pos_db = pos_db
        self.skybox = skybox  # a running SkyBox simulator when the POS is SkyBox (plugins/skybox_pos)

    def _query(self, db: Path, sql: str, *args: Any) -> list[tuple]:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def store(self, sql: str, *args: Any) -> list[tuple]:
        if isinstance(self.store_db, str):
            import psycopg

            with psycopg.connect(self.store_db, connect_timeout=5) as conn:
                return conn.execute(sql.replace("?", "%s"), args).fetchall()
        return self._query(self.store_db, sql, *args)

    def pos(self, sql: str, *args: Any) -> list[tuple]:
        return self._query(self.pos_db, sql, *args)

    def states(self, order_ids: list[int]) -> dict[int, tuple[str, str | None]]:
        if not order_ids:
            return {}
        marks = ",".join("?" * len(order_ids))
        rows = self.store(f"SELECT id, state, last_error FROM orders WHERE id IN ({marks})", *order_ids)
        return {row[0]: (row[1], row[2]) for row in rows}

    def pos_invoices(self, order_id: int) -> int:
        if self.skybox is not None:
            return self.skybox.invoices_for(order_id)
        return self.pos("SELECT COUNT(*) FROM invoices WHERE tevo_order_id = ?", order_id)[0][0]

    def active_holds(self) -> int:
        if self.skybox is not None:
            pos = len(self.skybox.state.live_holds())
        else:
            pos = self.pos("SELECT COUNT(*) FROM holds WHERE state = 'held'")[0][0]
        ours = self.store("SELECT COUNT(*) FROM holds WHERE state IN ('held', 'pending')")[0][0]
        return pos + ours

    def wait(self, made: list[DriverOrder], timeout: float, poll: Callable[[], Any] | None = None,
             poll_every: float = 2.0) -> bool:
        """Until every created order is settled and no hold is active (``poll`` stands in for the poller)."""
        ids = [m.order_id for m in made if m.order_id is not None]
        deadline = time.monotonic() + timeout
        last_poll = time.monotonic()
        while time.monotonic() < deadline:
            try:
                states = self.states(ids)
                done = (len(states) == len(ids) and all(s in SETTLED for s, _ in states.values())
                        and self.active_holds() == 0)
            except Exception:  # the store is being created or migrated, or its database restarts
                done = False
            if done:
                return True
            if poll is not None and time.monotonic() - last_poll >= poll_every:
                try:
                    poll()
                except Exception:  # a poll hitting injected faults fails; the next one goes on
                    pass
                last_poll = time.monotonic()
            time.sleep(0.1)
        return False


def tally(view: View, made: list[DriverOrder]) -> Tally:
    result = Tally()
    ids = [m.order_id for m in made if m.order_id is not None]
    states = view.states(ids)
    for order in made:
        if order.order_id is None:
            result.no_order += 1
            continue
        result.orders += 1
        expected = order.expected
        state, error = states.get(order.order_id, ("missing", None))
        result.states[state] += 1
        want = LOCAL_STATE[expected.final_state or ""]
        where = f"order {order.order_id} ({order.scenario.value})"
        if state == want:
            result.as_expected += 1
        else:
            result.lost += 1
            result.problems.append(f"{where}: {state}, expected {want}; last error {error}")
        seen = view.sandbox.inspect(order.order_id)
        invoices = view.pos_invoices(order.order_id)
        sold = expected.reject_reason is None
        accepts_wanted = 1 if sold and not order.scenario.uses_order_integration else 0
        if seen["accept_calls"] > accepts_wanted:
            result.double_accepts += 1
            result.problems.append(f"{where}: {seen['accept_calls']} accept calls")
        if seen["reject_calls"] > (0 if sold else 1):
            result.double_rejects += 1
            result.problems.append(f"{where}: {seen['reject_calls']} reject calls")
        if invoices > (1 if sold else 0):
            result.double_invoices += 1
            result.problems.append(f"{where}: {invoices} POS invoices")
        elif sold and invoices == 0 and state == want:
            result.missing_invoices += 1
            result.problems.append(f"{where}: done without a POS invoice")
        for item_id, item in seen["items"].items():
            if not item["finalized"] or item["delivered_by"] is None:
                continue
            texts = delivered_page_texts(view.sandbox.world, item_id)
            result.pages_delivered += len(texts)
            if len(texts) != item["quantity"] or len(set(texts)) != len(texts):
                result.duplicate_pages += 1
                result.problems.append(f"{where}: item {item_id} delivered {len(texts)} pages "
                                       f"({len(set(texts))} different) for {item['quantity']} tickets")
    result.active_holds = view.active_holds()
    if result.active_holds:
        result.problems.append(f"{result.active_holds} holds still active")
    return result
