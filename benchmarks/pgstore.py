"""The daemon on a PostgreSQL store against the same daemon on its SQLite store, in the same run.

Same set-up as ``intake`` (the daemon as ``tevo-bridge run`` in its own process, a TEvo that never
answers, the load generator in a third process), once with ``[store] path`` and once with
``[store] url`` pointing at a throwaway PostgreSQL server on this machine started from its
PostgreSQL binaries (``tests/pg.py``) with ``fsync`` on, as SQLite's ``synchronous=FULL`` is.
The baseline of each figure is the SQLite daemon measured just before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import Figure, blackhole, daemon_process
from benchmarks.intake import _check, _measured, daemon_settings, seed_pos
from tevo_bridge.serve import free_port

CONCURRENCY = 16


def run(tmp: Path, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    from tests.pg import PgServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql")
    holds, webhooks, warmup = (600, 600, 50) if quick else (3000, 3000, 200)
    tmp.mkdir(parents=True, exist_ok=True)
    remote_ids = seed_pos(tmp / "pos.sqlite3")
    server = PgServer(bin_dir)
    raw: dict[str, Any] = {}
    try:
        server.start(durable=True)
        stores = {"sqlite": {"path": str(tmp / "state.sqlite3")}, "postgresql": {"url": server.new_database()}}
        for name, store in stores.items():
            with blackhole() as tevo:
                settings = daemon_settings(tmp, tmp / "pos.sqlite3", tevo, free_port(), store=store)
                with daemon_process(settings, tmp / f"daemon-{name}.log") as daemon:
                    raw[name] = {
                        "hold": _measured(daemon, "hold", daemon.base_url, concurrency=CONCURRENCY, count=holds,
                                          max_seconds=60, prefix=f"{name}-hold", remote_ids=remote_ids,
                                          warmup=warmup),
                        "webhook": _measured(daemon, "webhook", daemon.base_url, concurrency=CONCURRENCY,
                                             count=webhooks, max_seconds=60, prefix=f"{name}-wh", warmup=warmup)}
    finally:
        server.destroy()
    return figures(raw), raw


def figures(raw: dict[str, Any]) -> list[Figure]:
    pg, lite = raw["postgresql"], raw["sqlite"]
    out = [Figure(f"PostgreSQL store: webhook durable acks, {CONCURRENCY} concurrent", pg["webhook"]["rate"], "acks/s",
                  lite["webhook"]["rate"], "SQLite store",
                  note=_check(pg["webhook"], "200") or f"p99 {pg['webhook']['p99']:.1f} ms vs "
                                                       f"{lite['webhook']['p99']:.1f} ms")]
    for q in ("p50", "p99"):
        out.append(Figure(f"PostgreSQL store: OI hold latency {q}, {CONCURRENCY} concurrent", pg["hold"][q], "ms",
                          lite["hold"][q], "SQLite store",
                          note=_check(pg["hold"], "200") or f"{pg['hold']['rate']:.0f} holds/s vs "
                                                            f"{lite['hold']['rate']:.0f}/s"))
    return out
