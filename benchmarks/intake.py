"""Order Integration hold latency and webhook durable acknowledgements, each against the bare app.

The daemon runs as ``tevo-bridge run`` in its own process over a SQLite POS seeded with a
large stock, the load generator in a third process.  TEvo is a socket that never answers:
the jobs the webhooks queue park a worker instead of competing for the CPU, so these
figures are intake alone (processing is the drain benchmark's subject).

A second baseline, the durable bare endpoint (benchmarks/durable_bare.py), is the bare app plus exactly
the fsync'd SQLite commits a hold (three in series) and an ack (one) must make: the floor the promises
set. The daemon is compared with both, and the floor with the bare app, so the notes can say how much
of the gap is the promises and how much is our code.

A third baseline, the bare app on uvicorn's httptools parser (the bare endpoint itself stays on h11, issue 24's
fixed yardstick; the daemon runs on httptools, ``[server] http_parser = "auto"``), is loaded at 16 concurrent
only: "bare on httptools" figures say how much of the daemon's gain is the parser itself.

All four servers stay up for the whole suite and are loaded in alternating rounds (benchmarks/rounds.py):
each figure is the median over the rounds, its ratio the median of the per-round ratios, with the
min-max spread in the note, beside the throughput and the server's CPU time per request.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.common import (
    API_KEY,
    WEBHOOK_TOKEN,
    Figure,
    bare_process,
    blackhole,
    cpu_seconds,
    daemon_process,
    durable_bare_process,
    fsync_rate,
    load,
)
from benchmarks.rounds import alternate_all, as_rounds, ratios, spread
from tevo_bridge.httpparser import httptools_available
from tevo_bridge.serve import free_port

GROUPS = 64
CONCURRENCY = (1, 16, 64)


def seed_pos(path: Path, groups: int = GROUPS) -> list[str]:
    from tevo_bridge_sqlite_pos import store

    from tevo_bridge.pos.inventory import InventoryRow

    rows = [InventoryRow(remote_id=f"B{n:04d}", event="Benchmark Night", venue="Loopback Arena",
                         occurs_at="2027-06-01T19:30:00Z", section=str(100 + n), row="1", seats=(),
                         quantity=1_000_000, min_price=Decimal("50")) for n in range(groups)]
    store.init_db(path)
    with store.connect(path) as conn:
        store.upsert_ticket_groups(conn, rows)
    return [r.remote_id for r in rows]


def daemon_settings(tmp: Path, pos_db: Path | None, tevo_url: str, port: int, plugin: str = "sqlite_pos",
                    plugin_settings: dict[str, Any] | None = None, store: dict[str, Any] | None = None) -> Any:
    """The daemon's settings for a benchmark: TEvo unreachable-but-silent, retries off, the given POS plugin and
    store (the SQLite file in ``tmp`` unless given)."""
    from tevo_bridge.config import Settings

    return Settings(
        tevo={"base_url": tevo_url, "token": "T" * 32, "secret": "S" * 40, "reviewer_id": 4711, "office_id": 2187,
              "brokerage_id": 2241, "connect_timeout": 5, "read_timeout": 300, "max_retries": 0},
        server={"port": port, "webhook_token": WEBHOOK_TOKEN, "order_integration": {"api_keys": [API_KEY]}},
        store=store or {"path": str(tmp / "state.sqlite3")},
        poller={"enabled": False},
        pipeline={"backoff_base": 300, "backoff_cap": 600},
        fulfillment={"airbill_dir": str(tmp / "airbills")},
        pos={"plugin": plugin},
        plugins={plugin: plugin_settings if plugin_settings is not None else {"database": str(pos_db)}},
        log={"format": "json", "level": "info"},
    )


def _measured(process: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """One load run, with the server process's CPU time per request (user + system, all threads)."""
    before = cpu_seconds(process.pid)
    result = load(*args, **kwargs)
    result["server_cpu_ms_per_request"] = (cpu_seconds(process.pid) - before) * 1000 / max(1, result["count"])
    return result


ROUNDS = 5  # alternating bare/daemon rounds (benchmarks/rounds.py); 3 with --quick


def run(tmp: Path, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    """Both servers stay up for the whole run; each round loads the bare app and the daemon back to back."""
    rounds = 3 if quick else ROUNDS
    counts = {1: 60, 16: 240, 64: 320} if quick else {1: 200, 16: 1000, 64: 1200}
    webhooks = 240 if quick else 1000
    warmup = 50 if quick else 200
    raw: dict[str, Any] = {"rounds": rounds, "hold": {}, "bare_hold": {}, "durable_hold": {}}
    raw["daemon_http_parser"] = "httptools" if httptools_available() else "h11"
    tmp.mkdir(parents=True, exist_ok=True)
    remote_ids = seed_pos(tmp / "pos.sqlite3")
    with blackhole() as tevo, daemon_process(daemon_settings(tmp, tmp / "pos.sqlite3", tevo, free_port()),
                                             tmp / "daemon.log") as daemon, \
            bare_process(free_port(), tmp / "bare.log") as bare, \
            durable_bare_process(free_port(), tmp / "durable", tmp / "durable.log") as durable, \
            bare_process(free_port(), tmp / "bare-httptools.log", http="httptools") as bare_httptools:

        def holds(process: Any, name: str, c: int) -> Callable[[int], dict[str, Any]]:
            return lambda n: _measured(process, "hold", process.base_url, concurrency=c, count=counts[c],
                                       max_seconds=60, prefix=f"{name}-c{c}-r{n}", remote_ids=remote_ids,
                                       warmup=warmup if n == 0 else 0)

        def acks(process: Any, name: str) -> Callable[[int], dict[str, Any]]:
            return lambda n: _measured(process, "webhook", process.base_url, concurrency=16, count=webhooks,
                                       max_seconds=60, prefix=f"{name}-wh-r{n}", warmup=warmup if n == 0 else 0)

        for c in CONCURRENCY:
            loads = [holds(bare, "bare", c), holds(durable, "durable", c), holds(daemon, "hold", c)]
            if c == 16:
                loads.append(holds(bare_httptools, "bare-httptools", c))
            got = alternate_all(rounds, *loads)
            raw["bare_hold"][c], raw["durable_hold"][c], raw["hold"][c] = got[:3]
            if c == 16:
                raw["bare_httptools_hold"] = got[3]
        raw["bare_webhook"], raw["durable_webhook"], raw["webhook"], raw["bare_httptools_webhook"] = alternate_all(
            rounds, acks(bare, "bare"), acks(durable, "durable"), acks(daemon, "daemon"),
            acks(bare_httptools, "bare-httptools"))
    raw["fsync_per_second"] = fsync_rate(tmp)
    return figures(raw), raw


def _check(results: list[dict[str, Any]], ok: str) -> str:
    problems = []
    for result in results:
        problems += [f"{v}×{k}" for k, v in result["statuses"].items() if str(k) != ok]
        problems += [f"{v}× {k}" for k, v in result["errors"].items()]
    return ("UNEXPECTED: " + ", ".join(problems)) if problems else ""


BARE = "bare endpoint"
DURABLE = "durable bare"


def _compared(name: str, subject: list[dict[str, Any]], base: list[dict[str, Any]], key: str, unit: str,
              target: str = "", meets: Callable[[float, float], bool] | None = None, note: str = "",
              base_name: str = BARE) -> Figure:
    """A figure whose value and baseline are medians over the rounds and whose ratio is the median per-round ratio."""
    value, baseline, ratio = spread(subject, key), spread(base, key), ratios(subject, base, key)
    spread_note = f"ratio {ratio.text()}× over {ratio.rounds} alternating rounds (median, min–max)"
    return Figure(name, value.median, unit, baseline.median, base_name, ratio=ratio.median, target=target,
                  met=meets(ratio.median, value.median) if meets else None,
                  note="; ".join(part for part in (spread_note, note) if part),
                  extra={"ratio_low": ratio.low, "ratio_high": ratio.high, "rounds": ratio.rounds})


def figures(raw: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    for c in CONCURRENCY:
        hold, bare = as_rounds(raw["hold"][c]), as_rounds(raw["bare_hold"][c])
        bad = _check(hold, "200")
        p50_target = ("≤ 2.5× bare", lambda ratio, _: ratio <= 2.5) if c == 16 else ("", None)
        p99_target = ("≤ 2.5× bare and < 20 ms", lambda ratio, ms: ratio <= 2.5 and ms < 20) if c == 16 else ("", None)
        out.append(_compared(f"OI hold latency p50, {c} concurrent", hold, bare, "p50", "ms", *p50_target, note=bad))
        out.append(_compared(f"OI hold latency p99, {c} concurrent", hold, bare, "p99", "ms", *p99_target, note=bad))
        if c == 16:
            out.append(_compared("OI hold throughput, 16 concurrent", hold, bare, "rate", "holds/s", "≥ 0.4× bare",
                                 lambda ratio, _: ratio >= 0.4, note=bad))
            out.append(_compared("server CPU per hold, 16 concurrent", hold, bare, "server_cpu_ms_per_request", "ms",
                                 "≤ 2.5× bare", lambda ratio, _: ratio <= 2.5, note=bad))
    wh, bare_wh = as_rounds(raw["webhook"]), as_rounds(raw["bare_webhook"])
    fsync = f"disk fsync ceiling {raw['fsync_per_second']:.0f}/s"
    out.append(_compared("webhook durable acks, 16 concurrent", wh, bare_wh, "rate", "acks/s", "≥ 0.6× bare",
                         lambda ratio, _: ratio >= 0.6, note=_check(wh, "200") or fsync))
    out.append(_compared("server CPU per webhook ack, 16 concurrent", wh, bare_wh, "server_cpu_ms_per_request", "ms",
                         note=_check(wh, "200")))
    if "durable_hold" in raw:  # results saved before the durable baseline have none
        out += floor_figures(raw)
    if "bare_httptools_hold" in raw:  # nor before the bare endpoint on httptools
        out += parser_figures(raw)
    return out


#: What the daemon and the floor are compared on: (key, unit of a hold, unit of an ack, what it is).
FLOOR_KEYS = (("server_cpu_ms_per_request", "ms", "ms", "server CPU per {}"), ("rate", "holds/s", "acks/s", "{}s/s"),
              ("p50", "ms", "ms", "{} latency p50"), ("p99", "ms", "ms", "{} latency p99"))


def floor_figures(raw: dict[str, Any]) -> list[Figure]:
    """At 16 concurrent: the durable bare endpoint against the bare one (the floor the promises set), and the
    daemon against the durable bare endpoint (what our code costs above that floor)."""
    loads = {"hold": (as_rounds(raw["hold"][16]), as_rounds(raw["durable_hold"][16]), as_rounds(raw["bare_hold"][16])),
             "ack": (as_rounds(raw["webhook"]), as_rounds(raw["durable_webhook"]), as_rounds(raw["bare_webhook"]))}
    return _between(loads, FLOOR_KEYS, "floor: durable bare {}", "daemon {} vs the floor", DURABLE)


BARE_HTTPTOOLS = "bare on httptools"
#: What the parser figures compare, at 16 concurrent: (key, unit of a hold, unit of an ack, what it is).
PARSER_KEYS = (("server_cpu_ms_per_request", "ms", "ms", "server CPU per {}"), ("rate", "holds/s", "acks/s", "{}s/s"))


def parser_figures(raw: dict[str, Any]) -> list[Figure]:
    """At 16 concurrent: the bare app on httptools against the bare one on h11 (what the parser alone is worth),
    and the daemon against the bare app on httptools (the daemon's cost above a bare endpoint on its own parser)."""
    loads = {"hold": (as_rounds(raw["hold"][16]), as_rounds(raw["bare_httptools_hold"]),
                      as_rounds(raw["bare_hold"][16])),
             "ack": (as_rounds(raw["webhook"]), as_rounds(raw["bare_httptools_webhook"]),
                     as_rounds(raw["bare_webhook"]))}
    parser = raw.get("daemon_http_parser", "httptools")
    return _between(loads, PARSER_KEYS, "bare on httptools: {}", f"daemon ({parser}) {{}} vs bare on httptools",
                    BARE_HTTPTOOLS)


def _between(loads: dict[str, tuple[Any, Any, Any]], keys: tuple[tuple[str, str, str, str], ...], middle_name: str,
             daemon_name: str, middle_base: str) -> list[Figure]:
    """For holds and acks, ``loads`` being (daemon, middle, bare) rounds: the middle server against the bare one,
    then the daemon against the middle one, on each of ``keys``; the names are ``*_name`` with the figure's label."""
    out: list[Figure] = []
    for what, (daemon, middle, bare) in loads.items():
        for key, hold_unit, ack_unit, name in keys:
            unit, label = (hold_unit if what == "hold" else ack_unit), name.format(what)
            out.append(_compared(f"{middle_name.format(label)}, 16 concurrent", middle, bare, key, unit,
                                 note=_check(middle, "200")))
            out.append(_compared(f"{daemon_name.format(label)}, 16 concurrent", daemon, middle, key, unit,
                                 note=_check(daemon, "200"), base_name=middle_base))
    return out
