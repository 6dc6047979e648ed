"""Part 9: a stateful property test of the real pipeline, with failures interleaved at every step.

Hypothesis drives a ``RuleBasedStateMachine`` over the whole system on loopback: the TEvo
sandbox, the daemon (real uvicorn, in this process or as its own process that can be killed
with SIGKILL) and the SQLite sample POS.  Its rules create orders of several scenarios by
webhook, poll or Order Integration, and in between break things and mend them the way the
world does: TEvo answers errors or acts and then times out, webhooks are lost or doubled, the
POS raises or hangs past its budget, ticket PDFs vanish or rot on disk, the local pickup
settings are empty, tickets that were not in hand arrive, TEvo cancels an order, the daemon is
restarted or killed, an operator retries orders (``redeliver`` for done ones) and fixes causes.

Checked after every step (``@invariant``): an order that is not settled (done, rejected,
canceled, needs_review) has a queued or running job, so nothing is ever left behind.

Checked at the end of every run, after the operator has fixed every cause and the daemon has
drained (``Bench.drain``: the store is polled, with a bound, never slept on):

- every order is done, rejected or canceled, or in needs_review with a reason;
- at TEvo at most one accept and at most one reject call, never both (none for Order Integration);
- at most one POS invoice, exactly one for a done order, none for an order never accepted;
- each item delivered at most once: e-tickets finalized once, with exactly its pages, each
  shipment completed, replaced and airbilled at most once;
- a rejected or canceled order holds no reservation in the POS; a done order's are invoiced;
- then every order still in needs_review is retried (its cause is fixed) and must end as its
  scenario expects, with the same checks, and no reservation at all is left held in the POS.

The machine is shared by the CI test (a few short runs) and the full variant (``run_stateful``,
``tests/reliability/full.py``), which also kills the daemon process with SIGKILL and at crash points.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, precondition, rule
from starlette.requests import ClientDisconnect
from tevo_bridge_sqlite_pos import store as pos_store
from tevo_bridge_sqlite_pos.plugin import SqlitePos

from tests.reliability.checks import View
from tevo_bridge import hookimpl
from tevo_bridge.config import Settings, settings_env
from tevo_bridge.crashpoints import ENV as CRASHPOINT_ENV
from tevo_bridge.intake.poller import poll_once
from tevo_bridge.log import configure_logging
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, quiet_logging, settings_for, webhook_form
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.sandbox.driver import DriverSettings
from tevo_bridge.sandbox.faults import FaultSettings
from tevo_bridge.sandbox.inspection import delivered_page_texts
from tevo_bridge.sandbox.inventory import ETICKET, generated_inventory
from tevo_bridge.sandbox.mirror import mirror_inventory
from tevo_bridge.sandbox.scenarios import Channel, InventoryExhausted, Scenario
from tevo_bridge.sandbox.server import Sandbox, running_sandbox
from tevo_bridge.serve import RunningDaemon, free_port, running_daemon
from tevo_bridge.store import AsyncStore, SqliteStore
from tevo_bridge.tevo.client import TevoClient
from tevo_bridge.tevo.errors import TevoError

ROOT = Path(__file__).resolve().parents[2]
SETTLED = frozenset({"done", "rejected", "canceled", "needs_review"})
FINAL = frozenset({"done", "rejected", "canceled"})
LOCAL_STATE = {"completed": "done", "accepted": "done", "rejected": "rejected"}  # TEvo's final -> the daemon's

SCENARIOS = (
    Scenario.OFFICE_ETICKET, Scenario.MULTI_ITEM, Scenario.FEDEX, Scenario.LOCAL_PICKUP, Scenario.TBD_MOBILE,
    Scenario.CLIENT_FRAUD_APPROVED, Scenario.CLIENT_FRAUD_DECLINED, Scenario.UNDERPRICED, Scenario.OUT_OF_STOCK,
    Scenario.OI_INVOICE, Scenario.OI_RELEASE,
)
CHANNELS = (Channel.WEBHOOK, Channel.POLL)
# At the end of every run, before anything is fixed: an order of each delivery path the rules can break.
LAST_BUYERS = (Scenario.OFFICE_ETICKET, Scenario.LOCAL_PICKUP, Scenario.OI_INVOICE)

# A little latency on every TEvo call, faults or not, so an order is still in flight a few steps after it
# was created and the faults the next rules set land in the middle of its processing.
LATENCY = 0.05
CALM = FaultSettings(latency=LATENCY)
# TEvo misbehaving, by kind: set on the running sandbox (its fault settings are read per request).
TEVO_FAULTS: dict[str, FaultSettings] = {
    "tevo_errors": FaultSettings(latency=LATENCY, error_rate=0.4),
    "tevo_timeouts": FaultSettings(latency=LATENCY, timeout_rate=0.3, hang_seconds=1.0),
    "webhooks_lost": FaultSettings(latency=LATENCY, webhook_drop_rate=0.6, webhook_duplicate_rate=0.4),
    "tevo_mixed": FaultSettings(latency=LATENCY, error_rate=0.25, timeout_rate=0.15, hang_seconds=1.0,
                                rate_limit_rate=0.05, retry_after=1, webhook_drop_rate=0.3,
                                webhook_duplicate_rate=0.3),
}

# The POS misbehaving: which hooks, and how.  Budgets are short so a hang is a timeout quickly.
POS_HOOKS: dict[str, tuple[str, ...]] = {
    "reserve": ("pos_hold", "pos_release_hold", "pos_accept_price", "pos_check_inventory"),
    "invoice": ("pos_create_invoice", "pos_find_customer", "pos_create_customer"),
    "delivery": ("pos_ticket_files", "pos_mobile_transfer"),
    "all": ("pos_hold", "pos_release_hold", "pos_accept_price", "pos_check_inventory", "pos_create_invoice",
            "pos_find_customer", "pos_create_customer", "pos_ticket_files", "pos_mobile_transfer"),
}
POS_BUDGET = 0.5
POS_HANG = 1.0  # past the budget, then the call goes through: a late effect the daemon must compensate
POS_RAISED = "POS unreachable (injected)"
CONTROL_FILE = "pos_faults.json"

CRASHPOINTS = ("after_accept", "after_invoice", "after_add_etickets")
RETRY_REASON = "operator retry (stateful test)"
EMPTY_PICKUP = {key: "" for key in ("contact_name", "phone_number", "street_address", "locality", "region",
                                    "postal_code", "time_range")}


# -- a POS whose hooks can be made to raise or hang on demand ---------------------------------------------


class ControlledPos(SqlitePos):
    """The SQLite sample POS, except that ``pos_faults.json`` beside its database can make hooks fail.

    The file is read on every call, so the test flips faults while the daemon runs, whether the
    daemon lives in this process or in its own (``stateful_daemon``).
    """

    def __init__(self, config: SqlitePos.Config) -> None:
        super().__init__(config)
        self._control = Path(config.database).parent / CONTROL_FILE

    def _temper(self, hook: str) -> None:
        try:
            control = json.loads(self._control.read_text())
        except (FileNotFoundError, ValueError):
            return
        mode = control.get("mode")
        if hook not in control.get("hooks", ()) or mode not in ("raise", "hang"):
            return
        with self._control.with_suffix(".log").open("a") as fired:  # one line per fault, for the figures
            fired.write(f"{mode} {hook}\n")
        if mode == "raise":
            raise ConnectionError(POS_RAISED)
        time.sleep(POS_HANG)

    @hookimpl
    def pos_check_inventory(self, item):
        self._temper("pos_check_inventory")
        return super().pos_check_inventory(item)

    @hookimpl
    def pos_accept_price(self, item):
        self._temper("pos_accept_price")
        return super().pos_accept_price(item)

    @hookimpl
    def pos_find_customer(self, buyer):
        self._temper("pos_find_customer")
        return super().pos_find_customer(buyer)

    @hookimpl
    def pos_create_customer(self, buyer):
        self._temper("pos_create_customer")
        return super().pos_create_customer(buyer)

    @hookimpl
    def pos_hold(self, hold):
        self._temper("pos_hold")
        return super().pos_hold(hold)

    @hookimpl
    def pos_hold_many(self, holds):
        self._temper("pos_hold")
        return super().pos_hold_many(holds)

    @hookimpl
    def pos_release_hold(self, hold):
        self._temper("pos_release_hold")
        return super().pos_release_hold(hold)

    @hookimpl
    def pos_create_invoice(self, order, customer):
        self._temper("pos_create_invoice")
        return super().pos_create_invoice(order, customer)

    @hookimpl
    def pos_ticket_files(self, order, item):
        self._temper("pos_ticket_files")
        return super().pos_ticket_files(order, item)

    @hookimpl
    def pos_mobile_transfer(self, order, item):
        self._temper("pos_mobile_transfer")
        return super().pos_mobile_transfer(order, item)


def controlled_host(pos_db: Path, budgets: dict[str, float]) -> PluginHost:
    return PluginHost("sqlite_pos", ControlledPos(ControlledPos.Config(database=pos_db)), budgets)


# -- the bench: sandbox, POS and a daemon that can be restarted, killed and reconfigured ---------------


class InProcessDaemon:
    """The daemon under uvicorn in a thread of this process (fast to start and stop)."""

    kind = "inprocess"

    def __init__(self, settings: Settings, pos_db: Path) -> None:
        host = controlled_host(pos_db, dict(settings.pos.budgets))
        self._context = running_daemon(settings, pos_host=host)
        self.daemon: RunningDaemon = self._context.__enter__()

    @property
    def alive(self) -> bool:
        return True

    def poll(self) -> None:
        runtime = self.daemon.runtime
        asyncio.run_coroutine_threadsafe(poll_once(runtime), runtime.loop).result(timeout=30)

    def stop(self) -> None:
        self._context.__exit__(None, None, None)


class ProcessDaemon:
    """The daemon as its own process (``tests.reliability.stateful_daemon``), so it can be SIGKILLed."""

    kind = "process"

    def __init__(self, settings: Settings, pos_db: Path, log: Path, crashpoint: str | None = None) -> None:
        self.settings = settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_")}
        env.update(settings_env(settings))
        if crashpoint:
            env[CRASHPOINT_ENV] = crashpoint
        self.process = subprocess.Popen([sys.executable, "-m", "tests.reliability.stateful_daemon"], cwd=ROOT,
                                        env=env, stdout=log.open("a"), stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{settings.server.port}/livez"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if crashpoint and self.process.returncode == 137:
                    return  # it resumed an interrupted job and died at its crash point already: supervise()
                raise AssertionError(f"the daemon exited at start-up:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        self.kill()
        raise AssertionError("the daemon did not start within 30 s")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def poll(self) -> None:
        """One poll cycle from outside, as the daemon's poller would run it (the worker notices within 1 s)."""

        async def once() -> None:
            store = AsyncStore(SqliteStore(self.settings.store.path))
            tevo = TevoClient.from_settings(self.settings.tevo)
            try:
                await poll_once(SimpleNamespace(settings=self.settings, store=store, tevo=tevo, wake=lambda: None))
            finally:
                await tevo.aclose()
                store.close()

        asyncio.run(once())

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class _Disconnects(logging.Filter):
    """The sandbox's uvicorn reports each request the killed or stopping daemon walked away from; expected here."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, (ClientDisconnect, asyncio.CancelledError))


class Bench:
    """Everything one example runs against, and the operator's and the world's hands on it."""

    def __init__(self, tmp: Path, *, kind: str = "inprocess", seed: int = 7, groups: int = 40) -> None:
        self.tmp = tmp
        self.kind = kind
        self.log = tmp / "daemon.log"
        self.port = free_port()
        self.pickup_broken = False
        self.crashpoint: str | None = None
        self._exits = ExitStack()
        self.daemon: InProcessDaemon | ProcessDaemon | None = None
        # Every fifth e-ticket listing is sold before the seller has the tickets: TEvo says not in hand,
        # and the POS row has no PDF until ``tickets_arrive``.
        inventory = generated_inventory(groups, seed=seed)
        etickets = [g.remote_id for g in inventory if g.format == ETICKET]
        self.late = set(etickets[2::5])
        inventory = [dataclasses.replace(g, in_hand=False) if g.remote_id in self.late else g for g in inventory]
        self.pos_db = tmp / "pos.sqlite3"
        self.tickets = tmp / "tickets"
        rows = mirror_inventory(inventory, self.tickets)
        self.late_rows = [r for r in rows if r.remote_id in self.late]
        pos_store.init_db(self.pos_db)
        with pos_store.connect(self.pos_db) as conn:
            pos_store.upsert_ticket_groups(conn, [dataclasses.replace(r, eticket_pdf=None, eticket_pages=None)
                                                  if r.remote_id in self.late else r for r in rows])
        self.pdfs = {path: path.read_bytes() for path in sorted(self.tickets.glob("*.pdf"))}
        self.inventory = inventory
        bridge = f"http://127.0.0.1:{self.port}"
        driver = DriverSettings(webhook_url=f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}", oi_base_url=bridge,
                                oi_api_key=API_KEY, retry_scale=0.005, fraud_delay=0.3, hold_timeout=5,
                                http_timeout=5)
        quiet = _Disconnects()
        logging.getLogger("uvicorn.error").addFilter(quiet)
        self._exits.callback(logging.getLogger("uvicorn.error").removeFilter, quiet)
        try:
            self.sandbox: Sandbox = self._exits.enter_context(
                running_sandbox(seed=seed, driver=driver, inventory=inventory, faults=CALM))
            self.view = View(self.sandbox, tmp / "state.sqlite3", self.pos_db)  # read-only looks
            # This process's log (the in-process daemon's, or the polls run from here) beside the daemon
            # process's, which appends to the same file.
            stream = self._exits.enter_context(self.log.open("a"))
            configure_logging("info", "json", [API_KEY, WEBHOOK_TOKEN], stream=stream)
            self._exits.callback(quiet_logging)
            self.start()
        except BaseException:
            self.close()
            raise

    # -- the daemon's life --------------------------------------------------------------------------

    def settings(self) -> Settings:
        fulfillment = {"local_pickup": EMPTY_PICKUP} if self.pickup_broken else {}
        return settings_for(
            self.sandbox, self.tmp, self.pos_db, self.port,
            # Read timeouts shorter than a hang, so a timed-out call is one whose outcome is unknown.
            tevo={"read_timeout": 0.5, "upload_timeout": 1.0, "connect_timeout": 0.5, "max_retries": 2,
                  "backoff_base": 0.05, "backoff_cap": 0.2},
            server={"hold_budget": 1.0, "invoice_budget": 0.3},
            # A start-up poll on every start, as in production; later polls are the test's `poll` rule.
            poller={"enabled": True, "interval": 600},
            pipeline={"max_attempts": 4, "backoff_base": 0.05, "backoff_cap": 0.3, "recheck_seconds": 0.5,
                      "lease_seconds": 10},
            pos={"budgets": {hook: POS_BUDGET for hook in POS_HOOKS["all"]}},
            log={"level": "info", "format": "json"},
            **({"fulfillment": fulfillment} if fulfillment else {}),
        )

    def start(self, crashpoint: str | None = None) -> None:
        settings = self.settings()
        self.settings_now = settings
        if self.kind == "process":
            self.daemon = ProcessDaemon(settings, self.pos_db, self.log, crashpoint)
        else:
            self.daemon = InProcessDaemon(settings, self.pos_db)
        self.crashpoint = crashpoint

    def restart(self) -> None:
        """Stop (SIGTERM, or the in-process lifespan shutdown) and start a new daemon on the same store and POS."""
        if self.daemon is not None:
            self.daemon.stop()
        self.daemon = None
        self.start()

    def kill(self, crashpoint: str | None = None) -> None:
        """SIGKILL the daemon process now, then start it again (armed to die at ``crashpoint``, if given)."""
        assert isinstance(self.daemon, ProcessDaemon)
        self.daemon.kill()
        self.daemon = None
        self.start(crashpoint)

    def supervise(self) -> bool:
        """Restart a daemon that died by itself (at its crash point), as systemd would; True if it had."""
        if self.daemon is not None and not self.daemon.alive:
            self.daemon.kill()
            self.daemon = None
            self.start()
            return True
        return False

    def close(self) -> None:
        try:
            if self.daemon is not None:
                self.daemon.stop()
                self.daemon = None
        finally:
            self._exits.close()

    # -- the world's and the operator's hands ---------------------------------------------------------

    def set_tevo_faults(self, faults: FaultSettings) -> None:
        self.sandbox.faults.settings = faults  # read per request: takes effect on the next call

    def set_pos_faults(self, mode: str | None, hooks: tuple[str, ...] = ()) -> None:
        control = self.tmp / CONTROL_FILE
        if mode is None:
            control.unlink(missing_ok=True)
        else:
            partial = control.with_suffix(".part")
            partial.write_text(json.dumps({"mode": mode, "hooks": list(hooks)}))
            os.replace(partial, control)

    def pos_faults_fired(self) -> Counter[str]:
        fired = (self.tmp / CONTROL_FILE).with_suffix(".log")
        lines = fired.read_text().splitlines() if fired.exists() else []
        return Counter(f"pos_{line.split()[0]}" for line in lines)

    def break_ticket_files(self, how: str) -> None:
        for path in self.pdfs:
            if how == "delete":
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(b"%PDF-1.4\nthis file was damaged on disk\n")

    def restore_ticket_files(self) -> None:
        for path, data in self.pdfs.items():
            path.write_bytes(data)

    def tickets_arrive(self) -> None:
        """The seller receives the tickets that were not in hand: the POS rows get their PDFs."""
        with pos_store.connect(self.pos_db) as conn:
            pos_store.upsert_ticket_groups(conn, self.late_rows)

    def poll(self) -> bool:
        assert self.daemon is not None
        try:
            self.daemon.poll()
        except TevoError:  # a poll hitting TEvo's faults fails; the next one goes on
            return False
        return True

    def send_webhook(self, order_id: int) -> int | None:
        order = self.sandbox.world.order(order_id)
        url = f"http://127.0.0.1:{self.port}/webhooks/tevo/{WEBHOOK_TOKEN}"
        try:
            response = httpx.post(url, content=webhook_form(order), timeout=5,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        except httpx.TransportError:
            return None  # the daemon is down: TEvo would retry later
        return response.status_code

    @contextlib.contextmanager
    def operator_store(self) -> Iterator[SqliteStore]:
        """The store as ``tevo-bridge orders ...`` opens it: its own connection, beside the daemon's."""
        opened = SqliteStore(self.tmp / "state.sqlite3")
        try:
            yield opened
        finally:
            opened.close()

    def retry(self, order_id: int, redeliver: bool = False) -> str:
        with self.operator_store() as opened:
            return opened.retry_order(order_id, RETRY_REASON, redeliver=redeliver)

    # -- looking ------------------------------------------------------------------------------------

    def store(self, sql: str, *args: Any) -> list[tuple]:
        return self.view.store(sql, *args)

    def pos(self, sql: str, *args: Any) -> list[tuple]:
        return self.view.pos(sql, *args)

    def states(self) -> dict[int, tuple[str, str | None]]:
        return {row[0]: (row[1], row[2]) for row in self.store("SELECT id, state, last_error FROM orders")}

    def orphans(self) -> list[tuple]:
        """Orders not settled and without a queued or running job: nothing would ever look at them again."""
        return self.store(
            "SELECT o.id, o.state, j.state, j.last_error FROM orders o LEFT JOIN jobs j ON j.key = 'order:' || o.id "
            "WHERE o.state NOT IN ('done', 'rejected', 'canceled', 'needs_review') "
            "AND (j.state IS NULL OR j.state NOT IN ('queued', 'running'))")

    def busy_jobs(self) -> int:
        return self.store("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")[0][0]

    def quiet(self) -> bool:
        """No job running and none due now (waiting orders re-check later)."""
        now = time.time()
        return self.store("SELECT COUNT(*) FROM jobs WHERE state = 'running' OR (state = 'queued' AND run_at <= ?)",
                          now)[0][0] == 0

    def settle(self, limit: float) -> None:
        """Let the daemon work until no job is running or due, or for ``limit`` seconds (polled, not slept)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.quiet():
            time.sleep(0.05)

    def drain(self, order_ids: list[int], timeout: float, poll_every: float = 1.0) -> bool:
        """Until every order is settled and no job is left (polling TEvo now and then), or ``timeout``.

        An order the daemon never heard of counts as settled once TEvo has canceled it: no poll lists it.
        """
        deadline = time.monotonic() + timeout
        last_poll = 0.0
        while time.monotonic() < deadline:
            self.supervise()
            if time.monotonic() - last_poll >= poll_every:
                self.poll()
                last_poll = time.monotonic()
            states = self.states()
            canceled = {oid for oid in order_ids if oid not in states
                        and self.sandbox.world.order(oid)["seller_state"] == "canceled"}
            if all(oid in canceled or states.get(oid, ("missing",))[0] in SETTLED for oid in order_ids) \
                    and self.busy_jobs() == 0:
                return True
            time.sleep(0.05)
        return False


# -- the figures of a run of many examples --------------------------------------------------------------


@dataclass
class Figures:
    examples: int = 0
    steps: int = 0
    orders: int = 0
    holds_without_order: int = 0
    injected: Counter[str] = field(default_factory=Counter)  # what the rules broke, by kind
    faults_fired: Counter[str] = field(default_factory=Counter)  # what TEvo and the POS then did, call by call
    restarts: int = 0
    kills: int = 0
    crashpoint_deaths: int = 0
    retries: Counter[str] = field(default_factory=Counter)  # operator retries by outcome
    duplicates: Counter[str] = field(default_factory=Counter)  # webhooks re-sent, polls re-run
    outcomes: Counter[str] = field(default_factory=Counter)  # each order's state after the drain
    after_retry: Counter[str] = field(default_factory=Counter)  # and after the operator retried needs_review
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        return {"examples": self.examples, "steps": self.steps, "orders": self.orders,
                "oi_holds_without_order": self.holds_without_order,
                "injected": dict(sorted(self.injected.items())), "injected_total": sum(self.injected.values()),
                "faults_fired": dict(sorted(self.faults_fired.items())), "restarts": self.restarts,
                "kills": self.kills, "crashpoint_deaths": self.crashpoint_deaths,
                "operator_retries": dict(sorted(self.retries.items())),
                "duplicates": dict(sorted(self.duplicates.items())),
                "outcomes": dict(sorted(self.outcomes.items())), "after_retry": dict(sorted(self.after_retry.items())),
                "seconds": round(self.seconds, 1)}


@dataclass
class Made:
    scenario: Scenario
    channel: str
    canceled: bool = False  # TEvo canceled it (a rule did)
    delivered_before_cancel: bool = False  # every item was delivered at TEvo when it canceled


def fully_delivered(seen: dict[str, Any]) -> bool:
    """Whether TEvo shows every item of the order delivered (``inspect``'s view)."""
    if seen["state"] == "completed":
        return True
    for shipment in seen["shipments"]:
        kind = (shipment["type"] or "").lower()
        if kind == "eticket":
            done = all(item["finalized"] for item in seen["items"].values())
        elif kind == "fedex":
            done = bool(shipment["tracking_number"])
        elif kind == "localpickup":
            done = bool(shipment["ship_from_name"])
        else:
            done = shipment["state"] == "delivered"
        if shipment["state"] != "canceled" and not done:
            return False
    return bool(seen["shipments"])


# -- the machine --------------------------------------------------------------------------------------------


class PipelineMachine(RuleBasedStateMachine):
    """One example: a fresh bench, a sequence of rules, then the operator fixes everything and checks."""

    kind = "inprocess"
    figures = Figures()
    drain_seconds = 60.0

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()
        self.tmp = Path(tempfile.mkdtemp(prefix="stateful-"))
        self.bench = Bench(self.tmp, kind=self.kind)
        self.made: dict[int, Made] = {}
        self.no_order: list[str] = []  # Order Integration global ids that never became an order
        self.trail: list[str] = []
        self.figures.examples += 1

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _step(self, text: str) -> None:
        self.figures.steps += 1
        armed = self.bench.crashpoint
        if self.bench.supervise():
            self.figures.crashpoint_deaths += 1
            self.trail.append(f"  (the daemon had died at crash point {armed}: restarted)")
        self.trail.append(text)

    def _inject(self, kind: str) -> None:
        """Count a cause broken, and let the orders in flight meet it: rules take milliseconds, an order's
        processing a good part of a second, so without this most faults would be mended before they bit."""
        self.figures.injected[kind] += 1
        self.bench.settle(1.0)

    def _context(self) -> str:
        return ("\nsteps:\n" + "\n".join(self.trail)
                + f"\nbench: {self.tmp} (daemon log {self.bench.log})")

    # -- orders ---------------------------------------------------------------------------------------------

    @initialize(target=orders, first=st.lists(st.tuples(st.sampled_from(SCENARIOS), st.sampled_from(CHANNELS)),
                                              min_size=2, max_size=5))
    def first_orders(self, first: list[tuple[Scenario, Channel]]):
        """Every run starts with a few orders, so even the shortest run has something to break."""
        ids = [self._create(scenario, channel) for scenario, channel in first]
        return multiple(*(oid for oid in ids if oid is not None))

    @rule(target=orders, scenario=st.sampled_from(SCENARIOS), channel=st.sampled_from(CHANNELS))
    def create_order(self, scenario: Scenario, channel: Channel):
        oid = self._create(scenario, channel)
        return multiple() if oid is None else oid

    @rule(target=orders, burst=st.lists(st.tuples(st.sampled_from(SCENARIOS), st.sampled_from(CHANNELS)),
                                        min_size=2, max_size=4))
    def order_burst(self, burst: list[tuple[Scenario, Channel]]):
        """Several orders at once (and twice the chance that orders are in flight when the next fault comes)."""
        ids = [self._create(scenario, channel) for scenario, channel in burst]
        return multiple(*(oid for oid in ids if oid is not None))

    def _create(self, scenario: Scenario, channel: Channel) -> int | None:
        channels = [Channel.ORDER_INTEGRATION] if scenario.uses_order_integration else [channel]
        self._step(f"create_order({scenario.value}, {channels[0].value})")
        try:
            made = self.bench.sandbox.driver.create_sync(scenario, channels)
        except InventoryExhausted:
            self.trail.append("  -> no listing left for it")
            return None
        if made.order_id is None:
            self.no_order.append(made.global_id or "")
            self.figures.holds_without_order += 1
            self.trail.append(f"  -> no order (hold answered {made.hold_status}), global id {made.global_id}")
            return None
        self.made[made.order_id] = Made(scenario, channels[0].value)
        self.figures.orders += 1
        self.trail.append(f"  -> order {made.order_id}")
        return made.order_id

    @rule(order_id=orders)
    def duplicate_webhook(self, order_id: int) -> None:
        self._step(f"duplicate_webhook({order_id})")
        self.figures.duplicates["webhook"] += 1
        status = self.bench.send_webhook(order_id)
        assert status in (None, 200), f"webhook for order {order_id} answered {status}{self._context()}"

    @rule()
    def poll(self) -> None:
        self._step("poll()")
        self.figures.duplicates["poll"] += 1
        self.bench.poll()

    @rule(order_id=orders)
    def tevo_cancels(self, order_id: int) -> None:
        state = self.bench.sandbox.world.order(order_id)["seller_state"]
        self._step(f"tevo_cancels({order_id})  # TEvo says {state}")
        if state in ("pending", "accepted"):
            with self.bench.sandbox.world.lock:  # nothing changes at TEvo between the look and the cancel
                delivered = fully_delivered(self.bench.sandbox.inspect(order_id))
                self.bench.sandbox.world.cancel_order(order_id)
            self.made[order_id].canceled = True
            self.made[order_id].delivered_before_cancel = delivered
            self.trail.append(f"  -> canceled; TEvo had {'every' if delivered else 'not every'} item delivered")
            self._inject("canceled_at_tevo")

    # -- breaking and mending ------------------------------------------------------------------------

    @rule(kind=st.sampled_from(sorted(TEVO_FAULTS)))
    def tevo_faults(self, kind: str) -> None:
        self._step(f"tevo_faults({kind})")
        self.bench.set_tevo_faults(TEVO_FAULTS[kind])
        self._inject(f"tevo:{kind}")

    @rule()
    def clear_tevo_faults(self) -> None:
        self._step("clear_tevo_faults()")
        self.bench.set_tevo_faults(CALM)

    @rule(mode=st.sampled_from(["raise", "hang"]), hooks=st.sampled_from(sorted(POS_HOOKS)))
    def pos_faults(self, mode: str, hooks: str) -> None:
        self._step(f"pos_faults({mode}, {hooks})")
        self.bench.set_pos_faults(mode, POS_HOOKS[hooks])
        self._inject(f"pos:{mode}:{hooks}")

    @rule()
    def clear_pos_faults(self) -> None:
        self._step("clear_pos_faults()")
        self.bench.set_pos_faults(None)

    @rule(how=st.sampled_from(["delete", "corrupt"]))
    def break_ticket_files(self, how: str) -> None:
        self._step(f"break_ticket_files({how})")
        self.bench.break_ticket_files(how)
        self._inject(f"files:{how}")

    @rule()
    def restore_ticket_files(self) -> None:
        self._step("restore_ticket_files()")
        self.bench.restore_ticket_files()

    @rule()
    def tickets_arrive(self) -> None:
        self._step("tickets_arrive()")
        self.bench.tickets_arrive()

    @rule(broken=st.booleans())
    def pickup_settings(self, broken: bool) -> None:
        """The seller edits the config (local pickup details emptied, or filled in again) and restarts."""
        self._step(f"pickup_settings(broken={broken})  # restarts the daemon")
        self.bench.pickup_broken = broken
        self.bench.restart()
        self.figures.restarts += 1
        if broken:
            self._inject("settings:pickup_empty")

    @rule()
    def operator_fixes_everything(self) -> None:
        self._step("operator_fixes_everything()")
        self._fix_everything()

    def _fix_everything(self) -> None:
        self.bench.set_tevo_faults(CALM)
        self.bench.set_pos_faults(None)
        self.bench.restore_ticket_files()
        self.bench.tickets_arrive()
        if self.bench.pickup_broken or self.bench.crashpoint:
            self.bench.pickup_broken = False
            self.bench.restart()
            self.figures.restarts += 1

    # -- the operator ------------------------------------------------------------------------------------

    @rule(order_id=orders, redeliver=st.booleans())
    def operator_retry(self, order_id: int, redeliver: bool) -> None:
        """``tevo-bridge orders retry`` (``--redeliver``), on whatever state the order is in now."""
        before = self.bench.states().get(order_id, ("unknown",))[0]
        outcome = self.bench.retry(order_id, redeliver=redeliver)
        self._step(f"operator_retry({order_id}, redeliver={redeliver})  # was {before}: {outcome}")
        self.figures.retries[outcome] += 1
        if outcome == "terminal":  # refused: the order was finished, and finished it stays
            state = self.bench.states()[order_id][0]
            assert state in FINAL and not (redeliver and state == "done"), \
                f"retry refused for an order in {state}{self._context()}"
        elif outcome == "queued":  # what it was sent back from, as the audit trail says
            (was,) = self.bench.store("SELECT from_state FROM audit WHERE order_id = ? AND to_state = 'new' "
                                      "AND reason = ? ORDER BY id DESC LIMIT 1", order_id, RETRY_REASON)[0]
            assert was not in FINAL or (redeliver and was == "done"), \
                f"retry sent an order back from {was} (redeliver={redeliver}){self._context()}"

    # -- the daemon's life ---------------------------------------------------------------------------------

    @rule()
    def restart(self) -> None:
        self._step("restart()")
        self.bench.restart()
        self.figures.restarts += 1

    @precondition(lambda self: self.kind == "process")
    @rule(target=orders, crashpoint=st.sampled_from((None, *CRASHPOINTS)))
    def kill(self, crashpoint: str | None):
        """SIGKILL now. With a crash point, the new process is armed to die there by itself, and an
        e-ticket sale (which passes every crash point) is made at once, so that it does."""
        self._step(f"kill(then crash at {crashpoint})")
        self.bench.kill(crashpoint)
        self.figures.kills += 1
        if crashpoint is None:
            return multiple()
        oid = self._create(Scenario.OFFICE_ETICKET, Channel.WEBHOOK)
        assert isinstance(self.bench.daemon, ProcessDaemon)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.bench.daemon.process.wait(timeout=10)  # bounded: the sale may not get that far (a fault)
        return multiple() if oid is None else oid

    @rule()
    def let_it_run(self) -> None:
        """Give the daemon time to act: until no job is running or due, at most 2 s (polled, not slept)."""
        self._step("let_it_run()")
        self.bench.settle(2.0)

    # -- after every step ------------------------------------------------------------------------------

    @invariant()
    def every_open_order_has_a_job(self) -> None:
        orphans = self.bench.orphans()
        assert not orphans, f"orders left behind (order, state, job state, job error): {orphans}{self._context()}"

    # -- at the end of every run ---------------------------------------------------------------------------

    def teardown(self) -> None:
        failing = sys.exc_info()[1] is not None  # a step already failed: report that, only clean up
        try:
            if not failing:
                failing = True  # until the checks pass: keep the bench's files to look at
                self._final_checks()
                failing = False
        finally:
            self.figures.faults_fired.update({k: v for k, v in self.bench.sandbox.faults.counts.items()
                                              if k != "latency"})
            self.figures.faults_fired.update(self.bench.pos_faults_fired())
            self.bench.close()
            self.figures.seconds += time.monotonic() - self.started
            if not failing:
                import shutil

                shutil.rmtree(self.tmp, ignore_errors=True)

    def _final_checks(self) -> None:
        self.trail.append("-- last buyers arrive while whatever is broken still is; then the operator fixes every "
                          "cause and the daemon drains")
        for scenario in LAST_BUYERS:
            self._create(scenario, Channel.WEBHOOK)
        self.bench.settle(2.0)
        self._fix_everything()
        ids = sorted(self.made)
        drained = self.bench.drain(ids, self.drain_seconds)
        states = self.bench.states()
        assert drained, f"not drained in {self.drain_seconds} s: {self._describe(states)}{self._context()}"
        for oid in ids:
            self.figures.outcomes[states.get(oid, ("never seen",))[0]] += 1
        self._check_orders(states, after_retry=False)
        review = [oid for oid in ids if states.get(oid, ("",))[0] == "needs_review"]
        if review:
            self.trail.append(f"-- the operator retries {review}")
            for oid in review:
                outcome = self.bench.retry(oid)
                assert outcome == "queued", f"retry of needs_review order {oid} said {outcome}{self._context()}"
            drained = self.bench.drain(ids, self.drain_seconds)
            states = self.bench.states()
            assert drained, f"not drained after retries: {self._describe(states)}{self._context()}"
        for oid in ids:
            self.figures.after_retry[states.get(oid, ("never seen",))[0]] += 1
        self._check_orders(states, after_retry=True)
        held = self.bench.pos("SELECT global_id, remote_id, quantity FROM holds WHERE state = 'held'")
        assert not held, f"reservations still held in the POS after every order settled: {held}{self._context()}"

    def _describe(self, states: dict[int, tuple[str, str | None]]) -> str:
        return "; ".join(f"{oid} ({self.made[oid].scenario.value}): {states.get(oid, ('never seen', None))}"
                         for oid in sorted(self.made))

    def _check_orders(self, states: dict[int, tuple[str, str | None]], *, after_retry: bool) -> None:
        problems: list[str] = []
        for oid, made in sorted(self.made.items()):
            problems += [f"order {oid} ({made.scenario.value}, {made.channel}): {p}"
                         for p in self._order_problems(oid, made, states.get(oid), after_retry)]
        for global_id in self.no_order:
            rows = self.bench.pos("SELECT state FROM holds WHERE global_id = ?", global_id)
            if any(state == "held" for (state,) in rows):
                problems.append(f"Order Integration hold {global_id} without an order is still held in the POS")
        assert not problems, "\n".join(problems) + self._context()

    def _order_problems(self, oid: int, made: Made, row: tuple[str, str | None] | None,
                        after_retry: bool) -> list[str]:
        problems = []
        seen = self.bench.sandbox.inspect(oid)
        if row is None:
            # Only an order TEvo canceled before anyone announced it may be unknown to the daemon.
            if not (made.canceled and seen["accept_calls"] == seen["reject_calls"] == 0):
                problems.append("never reached the daemon's store")
            return problems
        state, error = row
        if state not in SETTLED:
            problems.append(f"ended in {state} (last error {error})")
        if state == "needs_review" and not (error or "").strip():
            problems.append("needs_review without a reason")
        if after_retry:
            want = "canceled" if made.canceled else LOCAL_STATE[made.scenario.expected.final_state or ""]
            # TEvo announces no cancel (no webhook, and polls list pending and accepted orders only): an order
            # the daemon had delivered may stay done.  One not delivered can no longer be (TEvo refuses every
            # delivery call for a canceled order), so the daemon must find out and cancel it.
            allowed = {want, "done"} if made.canceled and made.delivered_before_cancel else {want}
            if made.canceled and made.delivered_before_cancel and "already delivered" in (error or ""):
                # The retry re-read the order and found the cancel: its invoice is voided, but TEvo's buyer
                # holds the tickets, so a person must revoke them (docs/architecture.md, "Voids").
                allowed.add("needs_review")
            if state not in allowed:
                problems.append(f"ended in {state} after the operator's retry, expected {want} (last error {error})")
        oi = made.scenario.uses_order_integration
        if seen["accept_calls"] > (0 if oi else 1):
            problems.append(f"{seen['accept_calls']} accept calls at TEvo")
        if seen["reject_calls"] > 1:
            problems.append(f"{seen['reject_calls']} reject calls at TEvo")
        if seen["accept_calls"] and seen["reject_calls"]:
            problems.append("both accepted and rejected at TEvo")
        invoices = self.bench.pos("SELECT COUNT(*) FROM invoices WHERE tevo_order_id = ?", oid)[0][0]
        if invoices > 1:
            problems.append(f"{invoices} POS invoices")
        if state == "done" and invoices != 1:
            problems.append("done without a POS invoice")
        if state == "rejected" and invoices:
            problems.append("rejected, but invoiced in the POS")
        problems += self._delivery_problems(oid, seen)
        problems += self._reservation_problems(oid, state, oi)
        return problems

    def _delivery_problems(self, oid: int, seen: dict[str, Any]) -> list[str]:
        problems = []
        for item_id, item in seen["items"].items():
            finalized = sum(1 for call in seen["calls"] if call["status"] == 200 and call["path"].endswith(
                f"/items/{item_id}/finalize_etickets"))
            if finalized > 1:
                problems.append(f"item {item_id} finalized {finalized} times")
            if item["finalized"]:
                texts = delivered_page_texts(self.bench.sandbox.world, item_id)
                if len(texts) != item["quantity"] or len(set(texts)) != len(texts):
                    problems.append(f"item {item_id} delivered {len(texts)} pages ({len(set(texts))} different) "
                                    f"for {item['quantity']} tickets")
        events = Counter(event["event"] for event in seen["shipment_history"])
        for event in ("completed", "replaced", "airbill"):
            if events[event] > 1:
                problems.append(f"shipment {event} {events[event]} times: {seen['shipment_history']}")
        return problems

    def _reservation_problems(self, oid: int, state: str, oi: bool) -> list[str]:
        rows = self.bench.pos("SELECT global_id, state FROM holds WHERE global_id LIKE ?", f"order-{oid}-%")
        hold = self.bench.store("SELECT global_id FROM holds WHERE order_id = ?", oid)
        if hold:
            rows += self.bench.pos("SELECT global_id, state FROM holds WHERE global_id = ?", hold[0][0])
        held = [g for g, s in rows if s == "held"]
        if state in ("rejected", "canceled", "done") and held:
            return [f"{state}, but its reservations {held} are still held in the POS (all: {rows})"]
        if state == "done":
            invoiced = {g for g, s in rows if s == "invoiced"}
            items = {i for i in self.bench.sandbox.inspect(oid)["items"]}
            covered = {int(g.split("-item-")[1].split("-")[0]) for g in invoiced if g.startswith("order-")}
            if oi and hold and hold[0][0] not in invoiced:
                return [f"done, but its Order Integration hold is not invoiced: {rows}"]
            if not oi and covered != items:
                return [f"done, but not every item's reservation was invoiced: {rows}"]
        return []


def machine(kind: str = "inprocess", figures: Figures | None = None, drain_seconds: float = 60.0
            ) -> type[PipelineMachine]:
    """A machine class bound to a daemon kind and a figures collector (one per test run)."""
    return type("PipelineMachine", (PipelineMachine,),
                {"kind": kind, "figures": figures or Figures(), "drain_seconds": drain_seconds})


def hypothesis_settings(examples: int, steps: int, *, derandomize: bool = True) -> settings:
    """No shared database and no shrinking: each example is seconds of real I/O, and timing-dependent
    failures would not shrink reliably; the trail of steps is printed with every failure instead."""
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None, derandomize=derandomize,
                    database=None, phases=(Phase.explicit, Phase.generate), print_blob=False,
                    suppress_health_check=list(HealthCheck))


def run_stateful(examples: int, steps: int, *, kind: str = "inprocess", derandomize: bool = True) -> Figures:
    """Run the machine outside pytest (``tests.reliability.full``); raises on the first failing example."""
    from hypothesis.stateful import run_state_machine_as_test

    figures = Figures()
    run_state_machine_as_test(machine(kind, figures), settings=hypothesis_settings(examples, steps,
                                                                                   derandomize=derandomize))
    return figures
