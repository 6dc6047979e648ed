"""``tevo-bridge demo``: the whole system on this machine, driving real orders through every channel.

Nothing is faked below the buyer: the sandbox plays TEvo (signed API, webhooks,
Order Integration calls), the daemon is the one a seller runs, and the POS is
the SQLite sample plugin with real ticket PDFs (or, with ``--pos skybox``, the
SkyBox plugin against its SkyBox simulator).  The demo only decides which
orders to create and checks that each ends where its scenario says.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tevo_bridge.loopback.stack import SETTLED, Stack, stack
from tevo_bridge.sandbox.inventory import generated_inventory
from tevo_bridge.sandbox.mirror import mirror_inventory
from tevo_bridge.sandbox.scenarios import Channel, Scenario
from tevo_bridge.term import cell, markup

POLL_EVERY = 2.0  # seconds between poll cycles, standing in for TEvo's 5-minute interval
TEVO_TO_LOCAL = {"completed": "done", "accepted": "done", "rejected": "rejected"}
CHANNEL_MIX = ([Channel.WEBHOOK], [Channel.POLL], [Channel.WEBHOOK, Channel.POLL])


@dataclass
class DemoOrder:
    scenario: Scenario
    channels: list[Channel]
    created_at: float
    order_id: int | None = None
    global_id: str | None = None
    hold_status: int | None = None
    outcome: str = "pending"
    expected: str = ""
    ok: bool = False
    detail: str = ""
    accepted_after: float | None = None


@dataclass
class DemoResult:
    orders: list[DemoOrder] = field(default_factory=list)
    folder: Path | None = None
    kept: bool = True  # False once a temporary folder was removed

    @property
    def ok(self) -> bool:
        return bool(self.orders) and all(o.ok for o in self.orders)


class PosView(Protocol):
    """What the demo reads back from the POS to judge an order: the states of a hold, the invoices of an order."""

    def hold_states(self, global_id: str) -> list[str]: ...

    def invoices_for(self, order_id: int) -> int: ...


@dataclass
class SqlitePosView:
    run: Stack

    def hold_states(self, global_id: str) -> list[str]:
        return [state for (state,) in self.run.pos("SELECT state FROM holds WHERE global_id = ?", global_id)]

    def invoices_for(self, order_id: int) -> int:
        return self.run.invoices_for(order_id)


POS_CHOICES = ("sqlite", "skybox")


def plan(count: int) -> list[tuple[Scenario, list[Channel]]]:
    """The scenario mix: every scenario in turn, the non-OI ones rotating through the channels."""
    scenarios = list(Scenario)
    planned = []
    for n in range(count):
        scenario = scenarios[n % len(scenarios)]
        if scenario.uses_order_integration:
            channels = [Channel.ORDER_INTEGRATION]
        else:
            channels = list(CHANNEL_MIX[(n // len(scenarios)) % len(CHANNEL_MIX)])
        planned.append((scenario, channels))
    return planned


def run_demo(orders: int = 50, seed: int = 1, keep: Path | None = None, console: Console | None = None,
             timeout: float = 120.0, pos: str = "sqlite") -> DemoResult:
    """Run the demo in ``keep`` (kept), or in a temporary folder removed afterwards if every order passed.

    A failed run keeps its temporary folder and says where: its daemon log is what explains the failure.
    """
    console = console or Console()
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="tevo-bridge-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    result = DemoResult(folder=folder)
    inventory = generated_inventory(groups=orders + 12, seed=seed)
    console.print(f"[bold]tevo-bridge demo[/]: {orders} orders, seed {seed}, in {folder}")
    with ExitStack() as exits:
        sections: dict[str, Any] = {}
        skybox = None
        if pos == "skybox":
            # A separate distribution (plugins/skybox_pos): imported only when asked for.
            from tevo_bridge_skybox_pos.simulator import running

            skybox = exits.enter_context(running(rows=mirror_inventory(inventory, folder / "skybox-tickets")))
            sections = {"pos": {"plugin": "skybox_pos"}, "plugins": {"skybox_pos": skybox.plugin_settings()}}
        run = exits.enter_context(stack(folder, seed=seed, inventory=inventory, log_level="info", **sections))
        view: PosView = skybox if skybox is not None else SqlitePosView(run)
        where = f"SkyBox simulator {skybox.base_url}" if skybox is not None else f"POS {run.pos_db.name}"
        console.print(f"  sandbox (TEvo) {run.sandbox.base_url}   daemon {run.daemon.base_url}   "
                      f"{where} ({len(inventory)} listings)")
        _drive(run, view, plan(orders), result, console, timeout)
        _judge(run, view, result)
    if keep is None and result.ok:
        shutil.rmtree(folder, ignore_errors=True)
        result.kept = False
    else:
        write_dashboard_config(folder)
    _report(result, console)
    return result


DASHBOARD_CONFIG = "dashboard.toml"


def write_dashboard_config(folder: Path) -> Path:
    """A config naming only the demo's store, for ``tevo-bridge dashboard serve`` once the demo's daemon stopped."""
    path = folder / DASHBOARD_CONFIG
    path.write_text('# tevo-bridge dashboard serve --config this file: the dashboard over the demo\'s store\n'
                    '[store]\npath = "state.sqlite3"\n', encoding="utf-8")
    return path


def _drive(run: Stack, view: PosView, planned: list[tuple[Scenario, list[Channel]]], result: DemoResult, console: Console,
           timeout: float) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        creating = progress.add_task("creating orders", total=len(planned))
        for scenario, channels in planned:
            made = run.sandbox.driver.create_sync(scenario, channels)
            result.orders.append(DemoOrder(scenario, channels, time.time(), made.order_id, made.global_id,
                                           made.hold_status))
            progress.advance(creating)
        settling = progress.add_task("orders settled", total=len(result.orders))
        deadline = time.monotonic() + timeout
        last_poll = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() - last_poll >= POLL_EVERY:
                run.poll()
                last_poll = time.monotonic()
            settled = sum(1 for o in result.orders if _settled(run, view, o))
            progress.update(settling, completed=settled)
            if settled == len(result.orders):
                break
            time.sleep(0.1)
        run.sandbox.driver.drain_sync(timeout=10)


def _settled(run: Stack, view: PosView, order: DemoOrder) -> bool:
    if order.order_id is None:  # Order Integration without an order: the hold must be over
        hold = run.store.get_hold(order.global_id) if order.global_id else None
        pos = view.hold_states(order.global_id) if order.global_id else []
        return hold is not None and hold.state != "pending" and all(state != "held" for state in pos)
    return run.state(order.order_id) in SETTLED


def _judge(run: Stack, view: PosView, result: DemoResult) -> None:
    for order in result.orders:
        expected = order.scenario.expected
        if order.order_id is None:
            rows = view.hold_states(order.global_id) if order.global_id else []
            order.outcome = f"hold {rows[0]}" if rows else f"hold refused ({order.hold_status})"
            order.expected = "hold released" if order.scenario is Scenario.OI_RELEASE else "hold refused (409)"
            order.ok = (order.outcome == "hold released") if order.scenario is Scenario.OI_RELEASE \
                else (order.hold_status == 409 and not rows)
            continue
        row = run.store.get_order(order.order_id)
        seen = run.sandbox.inspect(order.order_id)
        order.outcome = row.state if row else "missing"
        order.expected = TEVO_TO_LOCAL.get(expected.final_state or "", "?")
        invoices = view.invoices_for(order.order_id)
        accepts_wanted = 0 if order.scenario.uses_order_integration or expected.reject_reason else 1
        problems = []
        if order.outcome != order.expected:
            problems.append(f"ended {order.outcome}: {row.last_error if row else ''}")
        if seen["accept_calls"] != accepts_wanted:
            problems.append(f"{seen['accept_calls']} accept calls")
        if invoices != (0 if expected.reject_reason else 1):
            problems.append(f"{invoices} invoices")
        if expected.reject_reason and seen["rejection_reason"] != expected.reject_reason:
            problems.append(f"rejected as {seen['rejection_reason']!r}")
        order.ok = not problems
        order.detail = "; ".join(problems)
        order.accepted_after = _accept_latency(run, order)


def _accept_latency(run: Stack, order: DemoOrder) -> float | None:
    if order.order_id is None:  # the sandbox never made it: there is no trail to read
        return None
    for entry in run.store.audit_trail(order.order_id):
        if entry.to_state == "invoicing" and entry.reason == "accepted at TEvo":
            at = datetime.fromisoformat(entry.at.replace("Z", "+00:00")).timestamp()
            return max(0.0, at - order.created_at)
    return None


def _report(result: DemoResult, console: Console) -> None:
    table = Table(title="Orders by scenario")
    for column in ("scenario", "channels", "orders", "final state", "expected", "ok"):
        table.add_column(column)
    groups: dict[tuple[str, str, str, str], list[DemoOrder]] = {}
    for order in result.orders:
        key = (order.scenario.value, "+".join(c.value for c in order.channels), order.outcome, order.expected)
        groups.setdefault(key, []).append(order)
    for (scenario, channels, outcome, expected), members in sorted(groups.items()):
        ok = all(o.ok for o in members)
        table.add_row(scenario, channels, str(len(members)), cell(outcome), expected,
                      "[green]yes[/]" if ok else "[red]NO[/]")
    console.print(table)
    for order in result.orders:
        if not order.ok:
            detail = markup(order.detail or order.outcome)
            console.print(f"[red]order {order.order_id} ({order.scenario.value}): {detail}[/]")
    _latencies(result, console)
    totals = Counter(o.outcome for o in result.orders)
    console.print("final states: " + ", ".join(f"{state} {n}" for state, n in sorted(totals.items())))
    if result.folder is not None and result.kept:
        console.print(f"logs: {result.folder / 'daemon.log'}   daemon database: {result.folder / 'state.sqlite3'}   "
                      f"POS: {result.folder / 'pos.sqlite3'}")
        console.print(f"look at it in the dashboard: tevo-bridge dashboard serve --config "
                      f"{result.folder / DASHBOARD_CONFIG}   then open http://127.0.0.1:9180/dashboard/")
    elif result.folder is not None:
        console.print(f"removed {result.folder} (run with --keep DIR to keep the logs and databases)")
    verdict = "[green]every order ended where its scenario says[/]" if result.ok else "[red]some orders did not[/]"
    console.print(verdict)


def _latencies(result: DemoResult, console: Console) -> None:
    for label, wanted in (("webhook", Channel.WEBHOOK), ("poll only", Channel.POLL)):
        values = sorted(o.accepted_after for o in result.orders if o.accepted_after is not None
                        and (wanted in o.channels) and (wanted is Channel.POLL) == (o.channels == [Channel.POLL]))
        if values:
            console.print(f"creation → accepted ({label}, {len(values)} orders): median "
                          f"{statistics.median(values) * 1000:.0f} ms, p99 {_p99(values) * 1000:.0f} ms")
    if any(Channel.POLL in o.channels for o in result.orders):
        console.print(f"  (poll cycles every {POLL_EVERY:g} s here, standing in for TEvo's 5-minute interval)")


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]


__all__ = ["POS_CHOICES", "DemoResult", "PosView", "plan", "run_demo"]
