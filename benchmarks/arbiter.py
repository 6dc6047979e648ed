"""Webhook sent → accepted at TEvo, with every TEvo call 100 ms away: the cost of reserving in the POS first.

The pipeline reserves an order's tickets in the POS (``pos_hold`` per item) before it calls TEvo's
accept.  This measures the whole path with the TEvo sandbox's latency fault adding 100 ms to every
``/v9`` answer, against its physical floor: the TEvo round trips the path cannot avoid, times 100 ms.

The daemon runs as ``tevo-bridge run`` in its own process (configured by ``TEVO_BRIDGE_*`` variables,
the SQLite sample POS, ``gc.freeze()`` applied by ``run`` itself), as a seller runs it: it never shares a
process, nor a GIL, with TEvo.  The sandbox and the client posting the webhooks stay in this process.
``--in-process`` (``python -m benchmarks.arbiter``) runs the old variant instead, all three in this process
(``tevo_bridge.loopback.stack``), to compare the two.

One office e-ticket order at a time (the next is created only once the previous one is settled,
fulfilment included), so each figure is a latency, not a queue.  For each order:

- the order is created in the sandbox unannounced, then the benchmark posts TEvo's ``order_created``
  webhook for it itself: the clock starts just before that POST;
- it stops when the sandbox records the accept (the moment TEvo, and so the buyer, sees the order
  accepted; the daemon learns of it one answer later);
- the round trips are counted from the data: every ``/v9`` request that reached the sandbox between
  those two moments (arrival and completion timestamped by wrapping the sandbox's own ``FaultInjector.note``
  and ``World.record_call`` on their instances; no sandbox code changes).  The floor is the longest
  chain of those requests that ran one after another, times the latency;
- the reservation step is read from the daemon's audit trail (its SQLite store file, after the orders):
  from the ``checking`` transition to the ``accepting`` one (the POS hold of every item, the ``reserve``
  audit, their commits), and the time inside ``pos_hold`` itself from the daemon's
  ``tevo_bridge_pos_call_seconds`` histogram on its ``/metrics`` (read before and after each order, off
  the clock);
- the CPU used over the path, per process (the daemon's; this one's: sandbox and client), and the time
  their threads spent runnable but waiting for a core, from ``/proc/<pid>/task/*/schedstat`` (ns
  resolution): it says how much of the time beyond the floor is work rather than waiting, whose work, and
  whether a slow order waited for the machine.

A few warm-up orders (connections, first imports) are not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import Figure, median, percentile

if TYPE_CHECKING:
    from tevo_bridge.sandbox.inventory import TicketGroupSpec
    from tevo_bridge.sandbox.server import Sandbox
    from tevo_bridge.store.vocabulary import AuditRow

LATENCY = 0.1
WARMUP = 3
GOAL = 1.2  # × the floor, at the median
GOAL_P99 = 1.1  # × the floor, at p99 (issue 24: "keep ≤ 1.1× at p99")
SETTLED = {"done", "rejected", "canceled", "needs_review", "resolved"}


class CallClock:
    """Timestamps every ``/v9`` request the sandbox serves: when it arrived, when it was answered."""

    def __init__(self, sandbox: Any) -> None:
        from tevo_bridge.sandbox.faults import Fault

        self._latency_fault = Fault.LATENCY
        self._lock = threading.Lock()
        self.arrivals: list[tuple[float, str]] = []  # (time, "METHOD /path")
        self.answers: list[tuple[float, int | None, str]] = []  # (time, order id, "METHOD /path")
        self.watch: tuple[int, threading.Event] | None = None
        injector, world = sandbox.faults, sandbox.world
        note, record_call = injector.note, world.record_call

        def timed_note(fault: Any, detail: str) -> None:
            if fault is self._latency_fault:
                with self._lock:
                    self.arrivals.append((time.perf_counter(), detail))
            note(fault, detail)

        def timed_record_call(order_id: int | None, method: str, path: str, status: int) -> None:
            record_call(order_id, method, path, status)
            with self._lock:
                self.answers.append((time.perf_counter(), order_id, f"{method} {path}"))
                if self.watch and order_id == self.watch[0] and path.endswith("/accept") and status == 200:
                    self.watch[1].set()

        injector.note, world.record_call = timed_note, timed_record_call

    def reset(self, order_id: int) -> threading.Event:
        accepted = threading.Event()
        with self._lock:
            self.arrivals.clear()
            self.answers.clear()
            self.watch = (order_id, accepted)
        return accepted

    def accepted_at(self) -> float:
        with self._lock:
            return next(at for at, _, call in reversed(self.answers) if call.endswith("/accept"))

    def calls(self, since: float, until: float) -> list[dict[str, Any]]:
        """The requests that arrived in [since, until], each paired with its answer (FIFO per method and path)."""
        with self._lock:
            arrivals, answers = list(self.arrivals), list(self.answers)
        out = []
        for at, call in arrivals:
            if not since <= at <= until:
                continue
            match = next((a for a in answers if a[2] == call and a[0] >= at), None)
            if match is not None:
                answers.remove(match)
            out.append({"call": call, "arrived": at, "answered": match[0] if match else None,
                        "order_id": match[1] if match else None})
        return out


def chain(calls: list[dict[str, Any]]) -> int:
    """The most requests that ran strictly one after another (earliest answer first: optimal for intervals)."""
    count, free_at = 0, float("-inf")
    for call in sorted(calls, key=lambda c: c["answered"] or float("inf")):
        if call["answered"] is not None and call["arrived"] >= free_at:
            count, free_at = count + 1, call["answered"]
    return count


def shape(call: str) -> str:
    return re.sub(r"/\d+", "/{id}", call)


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def reservation_step(trail: list[AuditRow]) -> float | None:
    """Seconds from the ``checking`` transition to the ``accepting`` one in an order's audit trail (ms resolution)."""
    marks = {row.to_state: _at(row.at) for row in trail if row.action == "transition"}
    if "checking" in marks and "accepting" in marks:
        return marks["accepting"] - marks["checking"]
    return None


def thread_times(pid: int) -> tuple[float, float]:
    """A process's live threads' CPU time and time spent runnable but waiting for a core, summed, in seconds.

    ``/proc/<pid>/task/*/schedstat`` (ns resolution; ``/proc/<pid>/stat`` counts 10 ms ticks, too coarse
    for one order).  The wait tells a slow order that waited for the machine (other processes on its two
    cores) from one that did more work; a wait for the GIL or an fsync is neither: the thread sleeps.
    A thread that ends drops out of the sums; the daemon's threads (event loop, store, hook pool) live
    as long as it does, so a window is exact unless a thread ends inside it."""
    run = wait = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            fields = stat.read_text().split()
            run, wait = run + int(fields[0]), wait + int(fields[1])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended between the listing and the read
    return run / 1e9, wait / 1e9


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


@dataclass
class Target:
    """The stack under measurement, as the loop sees it, wherever the daemon runs."""

    sandbox: Sandbox
    pid: int  # the daemon's process
    webhook_url: str
    pos_hold_seconds: Callable[[], float]
    state: Callable[[int], str | None]
    trail: Callable[[int], list[AuditRow]]


@contextmanager
def own_process(tmp: Path, inventory: list[TicketGroupSpec]) -> Iterator[Target]:
    """Sandbox here; ``tevo-bridge run`` in its own process over the SQLite sample POS (as benchmarks/drain.py)."""
    from benchmarks.common import daemon_process
    from tevo_bridge.loopback.seed import seed_sqlite_mirror
    from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, settings_for
    from tevo_bridge.sandbox.driver import DriverSettings
    from tevo_bridge.sandbox.faults import FaultSettings
    from tevo_bridge.sandbox.server import running_sandbox
    from tevo_bridge.serve import free_port

    pos_db = tmp / "pos.sqlite3"
    seed_sqlite_mirror(pos_db, inventory, tmp / "tickets")
    port = free_port()
    bridge = f"http://127.0.0.1:{port}"
    webhook_url = f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}"
    driver = DriverSettings(webhook_url=webhook_url, oi_base_url=bridge, oi_api_key=API_KEY, retry_scale=0.005,
                            fraud_delay=0.3)
    with running_sandbox(seed=7, driver=driver, faults=FaultSettings(latency=LATENCY), inventory=inventory) as sandbox:
        settings = settings_for(sandbox, tmp, pos_db, port)
        store_db = Path(str(settings.store.path))
        with daemon_process(settings, tmp / "daemon.log") as daemon:
            yield Target(sandbox, daemon.pid, webhook_url, lambda: _metrics_pos_hold(bridge),
                         lambda order_id: _store_state(store_db, order_id),
                         lambda order_id: _store_trail(store_db, order_id))


@contextmanager
def in_process(tmp: Path, inventory: list[TicketGroupSpec]) -> Iterator[Target]:
    """The old variant: sandbox, daemon and POS in this process (``tevo_bridge.loopback.stack``), one GIL."""
    from tevo_bridge.daemon import settle_gc
    from tevo_bridge.loopback.stack import stack
    from tevo_bridge.sandbox.faults import FaultSettings

    with stack(tmp, faults=FaultSettings(latency=LATENCY), inventory=inventory, log_level="info") as loop:
        settle_gc()  # as ``tevo-bridge run`` does after start-up
        yield Target(loop.sandbox, os.getpid(), str(loop.sandbox.driver.settings.webhook_url), _registry_pos_hold,
                     loop.state, loop.store.audit_trail)


def _registry_pos_hold() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("tevo_bridge_pos_call_seconds_sum", {"hook": "pos_hold", "outcome": "ok"}) or 0.0


def _metrics_pos_hold(bridge: str) -> float:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(httpx.get(f"{bridge}/metrics", timeout=10).text):
        for sample in family.samples:
            if (sample.name == "tevo_bridge_pos_call_seconds_sum" and sample.labels.get("hook") == "pos_hold"
                    and sample.labels.get("outcome") == "ok"):
                return float(sample.value)
    return 0.0


def _read_store(db: Path, sql: str, order_id: int) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, (order_id,)).fetchall()
    finally:
        conn.close()


def _store_state(db: Path, order_id: int) -> str | None:
    rows = _read_store(db, "SELECT state FROM orders WHERE id = ?", order_id)
    return str(rows[0]["state"]) if rows else None


def _store_trail(db: Path, order_id: int) -> list[AuditRow]:
    from tevo_bridge.store.vocabulary import AuditRow

    rows = _read_store(db, "SELECT at, action, from_state, to_state, reason, details FROM audit "
                           "WHERE order_id = ? ORDER BY id", order_id)
    return [AuditRow(**dict(row)) for row in rows]


def _wait_settled(target: Target, order_id: int, timeout: float = 30.0) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = target.state(order_id)
        if state in SETTLED:
            return state
        time.sleep(0.05)
    return target.state(order_id)


def run(tmp: Path, quick: bool = False, *, orders: int | None = None,
        daemon_here: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    import httpx

    from tevo_bridge.loopback.stack import webhook_form
    from tevo_bridge.sandbox.inventory import generated_inventory
    from tevo_bridge.sandbox.scenarios import Channel, Scenario

    count = orders or (30 if quick else 200)
    tmp.mkdir(parents=True, exist_ok=True)
    inventory = generated_inventory(2 * (count + WARMUP), seed=5)
    samples: list[dict[str, Any]] = []
    ids: list[int] = []
    start = in_process if daemon_here else own_process
    with start(tmp, inventory) as target, httpx.Client(timeout=10) as client:
        raw: dict[str, Any] = {"latency_s": LATENCY, "warmup": WARMUP, "daemon_pid": target.pid,
                               "benchmark_pid": os.getpid(), "daemon_cmdline": cmdline(target.pid)}
        clock = CallClock(target.sandbox)
        for n in range(WARMUP + count):
            made = target.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.POLL])  # not announced
            order_id = made.order_id
            if order_id is None:
                raise RuntimeError(f"the sandbox created no order: {made}")
            with target.sandbox.world.lock:
                form = webhook_form(target.sandbox.world.orders[order_id])
            accepted = clock.reset(order_id)
            held_before = target.pos_hold_seconds()
            daemon_before, self_before = thread_times(target.pid), thread_times(os.getpid())
            sent = time.perf_counter()
            answer = client.post(target.webhook_url, content=form,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
            if answer.status_code != 200 or not accepted.wait(30):
                raise RuntimeError(f"order {order_id}: webhook {answer.status_code}, not accepted within 30 s")
            daemon_after, self_after = thread_times(target.pid), thread_times(os.getpid())
            at_accept = clock.accepted_at()
            calls = clock.calls(sent, at_accept)
            state = _wait_settled(target, order_id)
            if state != "done":
                raise RuntimeError(f"order {order_id} ended {state}")
            if n < WARMUP:
                continue
            ids.append(order_id)
            samples.append({
                "path_s": at_accept - sent,
                "calls": [shape(c["call"]) for c in calls],
                "sequential": chain(calls),
                "foreign": sum(1 for c in calls if c["order_id"] not in (None, order_id)),
                "gaps_s": _gaps(sent, calls),
                "pos_hold_s": target.pos_hold_seconds() - held_before,
                # In process, both figures are the one process: the daemon's share is not separable there.
                "daemon_cpu_s": daemon_after[0] - daemon_before[0] if not daemon_here else None,
                "daemon_runq_s": daemon_after[1] - daemon_before[1] if not daemon_here else None,
                "benchmark_cpu_s": self_after[0] - self_before[0],
                "benchmark_runq_s": self_after[1] - self_before[1],
            })
        for sample, counted in zip(samples, ids, strict=True):
            sample["reservation_s"] = reservation_step(target.trail(counted))
    raw["orders"] = samples
    raw["daemon"] = "in this process" if daemon_here else "own process"
    return figures(raw), raw


def _gaps(sent: float, calls: list[dict[str, Any]]) -> list[float]:
    """Time the daemon spent before each round trip (since the webhook, or the previous answer), then in each
    call beyond the injected latency; only for a path of sequential calls."""
    gaps, last = [], sent
    for call in sorted(calls, key=lambda c: c["arrived"]):
        if call["answered"] is None or call["arrived"] < last:
            return []
        gaps += [call["arrived"] - last, call["answered"] - call["arrived"] - LATENCY]
        last = call["answered"]
    return gaps


def figures(raw: dict[str, Any]) -> list[Figure]:
    samples, latency = raw["orders"], raw["latency_s"]
    paths = [s["path_s"] * 1000 for s in samples]
    trips = sorted({s["sequential"] for s in samples})
    calls = sorted({", ".join(s["calls"]) for s in samples})
    floor = trips[-1] * latency * 1000  # the longest chain seen; every order had the same one when len(trips) == 1
    rests = [(s["path_s"] - s["reservation_s"]) * 1000 for s in samples if s["reservation_s"] is not None]
    reserve = [s["reservation_s"] * 1000 for s in samples if s["reservation_s"] is not None]
    hold = [s["pos_hold_s"] * 1000 for s in samples]
    p50, p99 = median(paths), percentile(paths, 99)
    trips_text = "/".join(map(str, trips))
    floor_name = f"floor: {trips_text} TEvo round trips × {latency * 1000:.0f} ms"
    foreign = sum(s["foreign"] for s in samples)
    where = ("daemon as `tevo-bridge run` in its own process, sandbox and client in the benchmark's"
             if raw.get("daemon") == "own process" else "daemon in this process with the sandbox and client")
    common = (f"{len(samples)} orders one at a time, {where}; webhook POST → accept recorded by the sandbox; round trips "
              f"per order counted from the sandbox's requests: {trips_text} sequential ({'; '.join(calls)})"
              + (f"; {foreign} requests for other orders in the window" if foreign else ""))
    gaps = _gap_medians(samples)
    return [
        Figure("created → accepted at 100 ms per TEvo call, webhook path (median)", p50, "ms", floor, floor_name,
               target=f"≤ {GOAL}× floor", met=p50 <= GOAL * floor, note=common),
        Figure("created → accepted at 100 ms per TEvo call, webhook path (p99)", p99, "ms", floor, floor_name,
               target=f"≤ {GOAL_P99}× floor", met=p99 <= GOAL_P99 * floor,
               note=f"max {max(paths):.0f} ms; time outside the injected 100 ms per call (medians): {gaps}; "
                    f"{_cpu_text(raw)}"),
        Figure("… of which the POS reservation step (median)", median(reserve), "ms", p50, "path median",
               note=f"audit trail checking → accepting (holds, reserve audit, commits; ms resolution): "
                    f"{median(reserve) / (p50 - floor):.0%} of the median's time above the floor; p99 "
                    f"{percentile(reserve, 99):.1f} ms; inside pos_hold itself {median(hold):.1f} ms median, "
                    f"p99 {percentile(hold, 99):.1f} ms"),
        Figure("same path less the reservation step (median)", median(rests), "ms", floor, floor_name,
               note=f"p99 {percentile(rests, 99):.0f} ms ({percentile(rests, 99) / floor:.2f}× floor); per order "
                    f"path minus its own reservation step, same run"),
    ]


def _cpu_text(raw: dict[str, Any]) -> str:
    """CPU used over the path (webhook POST → accept), per process, medians per order."""
    samples = raw["orders"]
    if "benchmark_cpu_s" not in samples[0]:  # results measured before the daemon had its own process
        return (f"CPU used meanwhile by the one process (daemon, sandbox, client; all threads) "
                f"{median([s['cpu_s'] * 1000 for s in samples]):.0f} ms median")
    here, here_wait = _ms(samples, "benchmark_cpu_s"), _ms(samples, "benchmark_runq_s")
    if samples[0]["daemon_cpu_s"] is None:
        return (f"CPU used meanwhile by the one process (daemon, sandbox, client; all threads) {median(here):.0f} ms "
                f"median; its threads waited for a core {median(here_wait):.1f} ms (p99 "
                f"{percentile(here_wait, 99):.1f} ms)")
    daemon, daemon_wait = _ms(samples, "daemon_cpu_s"), _ms(samples, "daemon_runq_s")
    return (f"CPU used meanwhile (medians per order): the daemon process {median(daemon):.1f} ms (p99 "
            f"{percentile(daemon, 99):.1f} ms), the benchmark process (sandbox, client) {median(here):.1f} ms; "
            f"the daemon's threads waited for a core {median(daemon_wait):.1f} ms (p99 "
            f"{percentile(daemon_wait, 99):.1f} ms), the benchmark's {median(here_wait):.1f} ms")


def _ms(samples: list[dict[str, Any]], key: str) -> list[float]:
    return [s[key] * 1000 for s in samples]


def _gap_medians(samples: list[dict[str, Any]]) -> str:
    """Median of each gap along the path, labelled by the round trip it precedes or is spent in."""
    with_gaps = [s for s in samples if s["gaps_s"]]
    if not with_gaps:
        return "calls overlapped, not broken down"
    shapes = with_gaps[0]["calls"]
    same = [s for s in with_gaps if s["calls"] == shapes]
    parts = []
    for i, call in enumerate(shapes):
        before = median([s["gaps_s"][2 * i] * 1000 for s in same])
        inside = median([s["gaps_s"][2 * i + 1] * 1000 for s in same])
        parts.append(f"{before:.1f} ms before {call}, {inside:.1f} ms in it beyond 100 ms")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.arbiter [--quick] [--in-process] [--raw FILE]``: this suite alone, its table printed."""
    from benchmarks.__main__ import print_table

    parser = argparse.ArgumentParser(prog="python -m benchmarks.arbiter", description=main.__doc__)
    parser.add_argument("--quick", action="store_true", help="30 orders instead of 200")
    parser.add_argument("--in-process", action="store_true",
                        help="the daemon in this process with the sandbox (the variant before it had its own)")
    parser.add_argument("--raw", type=Path, help="also write the raw samples to this JSON file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tevo-arbiter-") as work:
        got, raw = run(Path(work), quick=args.quick, daemon_here=args.in_process)
    print_table(got)
    if args.raw:
        args.raw.write_text(json.dumps(raw, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
