"""One daemon on PostgreSQL against one daemon on SQLite: issue 24's "PostgreSQL within 1.5x of SQLite".

Both daemons stay up for the whole suite, each over its own copy of the POS and TEvo's blackhole
(as in benchmarks/intake.py), the PostgreSQL server durable (fsync and synchronous_commit on, as in
production). Each round loads the SQLite daemon and the PostgreSQL daemon back to back, in
alternating order (benchmarks/rounds.py); a figure's ratio is PostgreSQL over SQLite, the median of
the per-round ratios with the min-max spread, beside each one's server CPU time per request.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, blackhole, daemon_process
from benchmarks.intake import _check, _measured, daemon_settings, seed_pos
from benchmarks.replicas import postgres
from benchmarks.rounds import alternate, as_rounds, ratios, spread
from tevo_bridge.serve import free_port

ROUNDS = 5  # 3 with --quick


def run(tmp: Path, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    rounds = 3 if quick else ROUNDS
    holds_per_round, acks_per_round = (300, 300) if quick else (1000, 1000)
    warmup = 50 if quick else 200
    raw: dict[str, Any] = {"rounds": rounds}
    for name in ("sqlite", "postgresql"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    remote_ids = seed_pos(tmp / "sqlite" / "pos.sqlite3")
    seed_pos(tmp / "postgresql" / "pos.sqlite3")
    with postgres(tmp) as pg, blackhole() as tevo, \
            daemon_process(daemon_settings(tmp / "sqlite", tmp / "sqlite" / "pos.sqlite3", tevo, free_port()),
                           tmp / "sqlite" / "daemon.log") as lite, \
            daemon_process(daemon_settings(tmp / "postgresql", tmp / "postgresql" / "pos.sqlite3", tevo, free_port(),
                                           store={"url": pg.new_database()}),
                           tmp / "postgresql" / "daemon.log") as big:

        def holds(process: Any, name: str) -> Callable[[int], dict[str, Any]]:
            return lambda n: _measured(process, "hold", process.base_url, concurrency=16, count=holds_per_round,
                                       max_seconds=60, prefix=f"{name}-h-r{n}", remote_ids=remote_ids,
                                       warmup=warmup if n == 0 else 0)

        def acks(process: Any, name: str) -> Callable[[int], dict[str, Any]]:
            return lambda n: _measured(process, "webhook", process.base_url, concurrency=16, count=acks_per_round,
                                       max_seconds=60, prefix=f"{name}-wh-r{n}", warmup=warmup if n == 0 else 0)

        raw["sqlite_hold"], raw["pg_hold"] = alternate(rounds, holds(lite, "lite"), holds(big, "pg"))
        raw["sqlite_webhook"], raw["pg_webhook"] = alternate(rounds, acks(lite, "lite"), acks(big, "pg"))
    return figures(raw), raw


def _versus(name: str, pg: list[dict[str, Any]], lite: list[dict[str, Any]], key: str, unit: str, target: str,
            meets: Callable[[float], bool] | None) -> Figure:
    value, baseline, ratio = spread(pg, key), spread(lite, key), ratios(pg, lite, key)
    cpu = ratios(pg, lite, "server_cpu_ms_per_request")
    note = (f"ratio {ratio.text()}× over {ratio.rounds} alternating rounds (median, min–max); server CPU per "
            f"request {spread(pg, 'server_cpu_ms_per_request').median:.2f} ms vs "
            f"{spread(lite, 'server_cpu_ms_per_request').median:.2f} ms ({cpu.text()}×)")
    problems = "; ".join(p for p in (_check(pg, "200"), _check(lite, "200")) if p)
    return Figure(name, value.median, unit, baseline.median, "1 daemon on SQLite", ratio=ratio.median, target=target,
                  met=meets(ratio.median) if meets else None, note="; ".join(p for p in (note, problems) if p),
                  extra={"ratio_low": ratio.low, "ratio_high": ratio.high, "rounds": ratio.rounds})


def figures(raw: dict[str, Any]) -> list[Figure]:
    hold, lite_hold = as_rounds(raw["pg_hold"]), as_rounds(raw["sqlite_hold"])
    wh, lite_wh = as_rounds(raw["pg_webhook"]), as_rounds(raw["sqlite_webhook"])
    within = "≤ 1.5× SQLite"
    return [
        _versus("PostgreSQL: OI hold p50, 16 concurrent", hold, lite_hold, "p50", "ms", "", None),
        _versus("PostgreSQL: OI hold p99, 16 concurrent", hold, lite_hold, "p99", "ms", within, lambda r: r <= 1.5),
        _versus("PostgreSQL: OI hold throughput, 16 concurrent", hold, lite_hold, "rate", "holds/s", "≥ 0.67× SQLite",
                lambda r: r >= 1 / 1.5),
        _versus("PostgreSQL: webhook durable acks, 16 concurrent", wh, lite_wh, "rate", "acks/s", "≥ 0.67× SQLite",
                lambda r: r >= 1 / 1.5),
    ]
