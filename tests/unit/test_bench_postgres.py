"""The postgres suite's figures: PostgreSQL over SQLite, per round, judged against "within 1.5x"."""

from __future__ import annotations

from benchmarks.postgres import figures


def _round(p50: float, p99: float, rate: float, cpu: float, status: str = "200") -> dict:
    return {"p50": p50, "p99": p99, "rate": rate, "server_cpu_ms_per_request": cpu, "statuses": {status: 10},
            "errors": {}}


def test_the_ratios_are_postgresql_over_sqlite_per_round_and_judged_both_ways() -> None:
    raw = {
        "rounds": 2,
        "sqlite_hold": [_round(10, 20, 400, 1.0), _round(20, 40, 200, 2.0)],  # round 2: a slower machine
        "pg_hold": [_round(12, 40, 300, 2.0), _round(24, 80, 150, 4.0)],
        "sqlite_webhook": [_round(5, 9, 1000, 0.5), _round(5, 9, 1000, 0.5)],
        "pg_webhook": [_round(5, 9, 500, 1.0), _round(5, 9, 700, 1.0, status="503")],
    }
    by_name = {f.name: f for f in figures(raw)}
    p99 = by_name["PostgreSQL: OI hold p99, 16 concurrent"]
    assert (p99.ratio, p99.met) == (2.0, False)  # lower is better: 2x SQLite misses "within 1.5x"
    holds = by_name["PostgreSQL: OI hold throughput, 16 concurrent"]
    assert (holds.ratio, holds.met) == (0.75, True)  # higher is better: 0.75x of SQLite's rate is within 1.5x
    assert "2.00 ms vs 1.00 ms" not in holds.note and "server CPU per request 3.00 ms vs 1.50 ms" in holds.note
    acks = by_name["PostgreSQL: webhook durable acks, 16 concurrent"]
    assert (acks.ratio, acks.met) == (0.6, False)
    assert "UNEXPECTED: 10×503" in acks.note  # a refused ack is named, not averaged away
