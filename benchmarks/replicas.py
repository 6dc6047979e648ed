"""Several daemons: OI hold latency and webhook acks for 1 daemon on SQLite, 1 on PostgreSQL, 2 and 4 on
PostgreSQL behind one balancing proxy; and 1,000 orders drained by two replicas.

Per setup, its daemons and as many bare processes stay up together and are loaded in alternating
rounds (benchmarks/rounds.py): a ratio is the median of the per-round ratios, with its min-max.

Each figure's baseline is the bare app with the same number of processes, reached the same way
(directly for one process, through the same Caddy for several), so a ratio says what tevo-bridge
costs beyond the processes and the proxy themselves. PostgreSQL is a server of this run's own,
started durable (fsync on), as a seller would run it. The load generator, the proxy, the daemons
and PostgreSQL share the machine's two cores: with four daemons the figures measure contention as
much as the code, and say so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from benchmarks import drain as drain_module
from benchmarks.common import Figure, Process, bare_process, blackhole, daemon_process, load
from benchmarks.intake import daemon_settings, seed_pos
from benchmarks.rounds import Spread, alternate, as_rounds, ratios, spread
from tevo_bridge.serve import free_port

#: (label, processes, backend)
SETUPS = (("1 daemon, SQLite", 1, "sqlite"), ("1 daemon, PostgreSQL", 1, "postgresql"),
          ("2 daemons, PostgreSQL", 2, "postgresql"), ("4 daemons, PostgreSQL", 4, "postgresql"))
CONCURRENCY = (16, 64)


@contextmanager
def postgres(tmp: Path) -> Iterator[Any]:
    from tests.pg import PgServer, need_postgresql

    server = PgServer(need_postgresql())
    try:
        server.start(durable=True)
        yield server
    finally:
        server.destroy()


@contextmanager
def balanced(bases: list[str], tmp: Path, port: int | None = None) -> Iterator[str]:
    """One address for the processes: themselves if one, else Caddy (deploy/replicas/Caddyfile) over them."""
    if len(bases) == 1 and port is None:
        yield bases[0]
        return
    from tests.caddy import balancing

    port = port or free_port()
    folder = tmp / f"caddy-{port}"
    folder.mkdir()
    with balancing([base.removeprefix("http://") for base in bases], folder, port) as front:
        time.sleep(2.5)  # the first active health check marks the upstreams up
        yield front


def _loads(url: str, counts: dict[str, int], warmup: int, remote_ids: list[str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in CONCURRENCY:
        out[f"hold_{c}"] = load("hold", url, concurrency=c, count=counts[f"hold_{c}"], max_seconds=60,
                                prefix=f"{prefix}-h{c}", remote_ids=remote_ids, warmup=warmup)
    out["webhook"] = load("webhook", url, concurrency=16, count=counts["webhook"], max_seconds=60,
                          prefix=f"{prefix}-wh", warmup=warmup)
    return out


ROUNDS = 3  # alternating bare/daemon rounds per setup (benchmarks/rounds.py); 2 with --quick


def run(tmp: Path, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    """Per setup, its daemons and as many bare processes stay up together and are loaded in alternating rounds."""
    counts = ({"hold_16": 400, "hold_64": 500, "webhook": 400} if quick
              else {"hold_16": 2000, "hold_64": 3000, "webhook": 3000})
    warmup = 50 if quick else 200
    rounds = 2 if quick else ROUNDS
    tmp.mkdir(parents=True, exist_ok=True)
    raw: dict[str, Any] = {"daemons": {}, "bare": {}, "rounds": rounds}
    with postgres(tmp) as pg, blackhole() as tevo:
        for label, processes, backend in SETUPS:
            folder = tmp / label.replace(" ", "-").replace(",", "")
            folder.mkdir()
            remote_ids = seed_pos(folder / "pos.sqlite3")
            url = pg.new_database() if backend == "postgresql" else None
            with ExitStack() as stack:
                daemons: list[Process] = []
                for n in range(processes):
                    settings = daemon_settings(folder, folder / "pos.sqlite3", tevo, free_port(),
                                               store={"url": url} if url else None)
                    daemons.append(stack.enter_context(daemon_process(settings, folder / f"daemon-{n}.log")))
                bares = [stack.enter_context(bare_process(free_port(), folder / f"bare-{n}.log"))
                         for n in range(processes)]
                front = stack.enter_context(balanced([d.base_url for d in daemons], folder))
                bare_front = stack.enter_context(balanced([b.base_url for b in bares], folder))
                tag = f"{processes}{backend[0]}"
                raw["bare"][label], raw["daemons"][label] = alternate(
                    rounds,
                    lambda n, tag=tag, bare_front=bare_front: _loads(
                        bare_front, counts, warmup if n == 0 else 0, ["1"], f"b{tag}r{n}"),
                    lambda n, tag=tag, front=front, remote_ids=remote_ids: _loads(
                        front, counts, warmup if n == 0 else 0, remote_ids, f"d{tag}r{n}"))
        raw["drain"] = drain_by_two(tmp / "drain", pg, quick)
    return figures(raw), raw


def drain_by_two(tmp: Path, pg: Any, quick: bool) -> dict[str, Any]:
    """1,000 mixed orders through the proxy to two replicas on PostgreSQL, timed until all settled."""
    from benchmarks.drain import LOCAL_STATE, SETTLED, _create_all, mix
    from tevo_bridge.loopback.seed import seed_sqlite_mirror
    from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, settings_for
    from tevo_bridge.sandbox.driver import DriverSettings
    from tevo_bridge.sandbox.inventory import generated_inventory
    from tevo_bridge.sandbox.server import running_sandbox

    orders = 100 if quick else 1000
    tmp.mkdir(parents=True, exist_ok=True)
    inventory = generated_inventory(max(150, orders + orders // 5), seed=11)
    pos_db = tmp / "pos.sqlite3"
    seed_sqlite_mirror(pos_db, inventory, tmp / "tickets")
    url = pg.new_database()
    ports = [free_port(), free_port()]
    with ExitStack() as stack:
        front_port = free_port()
        bridge = f"http://127.0.0.1:{front_port}"
        driver = DriverSettings(webhook_url=f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}", oi_base_url=bridge,
                                oi_api_key=API_KEY, retry_scale=0.005, fraud_delay=0.3)
        sandbox = stack.enter_context(running_sandbox(seed=11, driver=driver, inventory=inventory))
        daemons = []
        for n, port in enumerate(ports):
            folder = tmp / f"replica-{n}"
            folder.mkdir()
            settings = settings_for(sandbox, folder, pos_db, port, store={"url": url}, log={"level": "info"})
            daemons.append(stack.enter_context(daemon_process(settings, folder / "daemon.log")))
        stack.enter_context(balanced([d.base_url for d in daemons], tmp, front_port))
        scenarios = mix(orders)
        started = time.perf_counter()
        made = sandbox._server.submit(_create_all(sandbox.driver, scenarios)).result(timeout=900)
        create_seconds = time.perf_counter() - started
        ids = [m.order_id for m in made if m.order_id is not None]
        deadline = time.monotonic() + (180 if quick else 600)
        states: dict[int, str] = {}
        while time.monotonic() < deadline:
            states = _states(url, ids)
            if len(states) == len(ids) and all(s in SETTLED for s in states.values()):
                break
            time.sleep(0.2)
        drain_seconds = time.perf_counter() - started
        sandbox.driver.drain_sync(timeout=30)
    # How the work was shared: each replica logs the transitions it made.
    shares = [(tmp / f"replica-{n}" / "daemon.log").read_text().count('"order.transition"') for n in range(len(ports))]
    wrong = [(m.scenario.value, m.order_id, states.get(m.order_id)) for m in made
             if m.order_id is not None and states.get(m.order_id) != LOCAL_STATE.get(m.expected.final_state or "")]
    return {"orders": len(ids), "scenario_calls": len(scenarios), "create_seconds": create_seconds,
            "drain_seconds": drain_seconds, "unsettled": sum(1 for i in ids if states.get(i) not in SETTLED),
            "unexpected": wrong[:20], "unexpected_count": len(wrong), "transitions_per_replica": shares}


def _states(url: str, ids: list[int]) -> dict[int, str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT id, state FROM orders WHERE id = ANY(%s)", (ids,)).fetchall())


def figures(raw: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    for label, processes, _ in SETUPS:
        ours, bare = as_rounds(raw["daemons"][label]), as_rounds(_bare_of(raw["bare"], label, processes))
        base_name = "bare app, 1 process" if processes == 1 else f"bare app, {processes} processes behind Caddy"
        for c in CONCURRENCY:
            hold, base = [r[f"hold_{c}"] for r in ours], [r[f"hold_{c}"] for r in bare]
            for q in ("p50", "p99"):
                target, met = "", None
                value, ratio = spread(hold, q), ratios(hold, base, q)
                if c == 16 and q == "p99":
                    target, met = "≤ 3× bare", ratio.median <= 3  # issue 24
                out.append(Figure(f"{label}: OI hold {q}, {c} concurrent", value.median, "ms",
                                  spread(base, q).median, base_name, ratio=ratio.median, target=target, met=met,
                                  note=_note(hold, base, ratio)))
        wh, base = [r["webhook"] for r in ours], [r["webhook"] for r in bare]
        ratio = ratios(wh, base, "rate")
        out.append(Figure(f"{label}: webhook acks, 16 concurrent", spread(wh, "rate").median, "acks/s",
                          spread(base, "rate").median, base_name, ratio=ratio.median, note=_note(wh, base, ratio)))
    drain = raw["drain"]
    rate = drain["orders"] / drain["drain_seconds"]
    problems = []
    if drain["unsettled"]:
        problems.append(f"{drain['unsettled']} NOT SETTLED")
    if drain["unexpected_count"]:
        problems.append(f"{drain['unexpected_count']} unexpected outcomes, e.g. {drain['unexpected'][:3]}")
    out.append(Figure(f"{drain['orders']} mixed orders drained by 2 replicas on PostgreSQL", rate, "orders/s",
                      drain_module.announced_rate(drain), "sandbox creating + announcing them",
                      target="every outcome as expected", met=not problems,
                      note="; ".join(problems) or f"{drain['drain_seconds']:.1f} s; every outcome as expected; state "
                                                 f"changes made by each replica: {drain['transitions_per_replica']}"))
    return out


def _bare_of(bare: dict[str, Any], label: str, processes: int) -> Any:
    """A setup's own bare rounds; results saved before rounds kept one bare run per process count."""
    return bare.get(label) or bare.get(str(processes)) or bare[processes]  # type: ignore[index]


def _note(ours: list[dict[str, Any]], base: list[dict[str, Any]], ratio: Spread) -> str:
    problems = [f"statuses {bad}, errors {dict(r['errors'])}" for r in ours
                if (bad := {k: v for k, v in r["statuses"].items() if str(k) != "200"}) or r["errors"]]
    if problems:
        return "UNEXPECTED: " + "; ".join(problems)
    rounds = f"ratio {ratio.text()}× over {ratio.rounds} alternating rounds (median, min–max)" if ratio.rounds > 1 else ""
    rates = (f"{spread(ours, 'rate').median:.0f}/s vs {spread(base, 'rate').median:.0f}/s bare; "
             f"p99 {spread(ours, 'p99').median:.1f} ms vs {spread(base, 'p99').median:.1f} ms")
    return "; ".join(part for part in (rounds, rates) if part)
