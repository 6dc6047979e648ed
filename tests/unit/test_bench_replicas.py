"""The replicas suite's figures: each setup against its own bare rounds; results saved before rounds still read."""

from __future__ import annotations

from benchmarks.replicas import SETUPS, figures


def _load(p50: float, p99: float, rate: float) -> dict:
    return {"p50": p50, "p99": p99, "rate": rate, "statuses": {"200": 10}, "errors": {}}


def _round(scale: float) -> dict:
    return {"hold_16": _load(10 * scale, 20 * scale, 100 / scale), "hold_64": _load(10 * scale, 20 * scale, 100),
            "webhook": _load(5, 9, 500 / scale)}


DRAIN = {"orders": 10, "drain_seconds": 1.0, "scenario_calls": 10, "create_seconds": 1.0, "unsettled": 0,
         "unexpected_count": 0, "unexpected": [], "transitions_per_replica": [5, 5]}


def test_a_setups_ratio_is_the_median_of_its_rounds_against_its_own_bare_rounds() -> None:
    # The machine is twice as slow in round 2 for both sides: the daemon costs 2x the bare app in each round.
    bare = [_round(1), _round(2)]
    ours = [{k: {**v, "p99": v["p99"] * 2} for k, v in r.items()} for r in bare]
    raw = {"daemons": {label: ours for label, _, _ in SETUPS}, "bare": {label: bare for label, _, _ in SETUPS},
           "drain": DRAIN}
    p99 = next(f for f in figures(raw) if f.name == "1 daemon, SQLite: OI hold p99, 16 concurrent")
    assert p99.ratio == 2.0 and p99.value == 60.0  # the ratio of medians would say 60 / 30 too; per round it is 2x
    assert p99.met is True  # issue 24's target is the ratio alone: within 3x bare
    slower = [{k: {**v, "p99": v["p99"] * 4} for k, v in r.items()} for r in bare]
    raw["daemons"] = {label: slower for label, _, _ in SETUPS}
    assert next(f for f in figures(raw) if f.name == p99.name).met is False  # 4x bare
    assert "2.00 (2.00–2.00)× over 2 alternating rounds" in p99.note


def test_results_saved_before_rounds_still_render() -> None:
    one = _round(1)
    raw = {"daemons": {label: one for label, _, _ in SETUPS}, "bare": {"1": one, "2": one, "4": one}, "drain": DRAIN}
    hold = next(f for f in figures(raw) if f.name == "4 daemons, PostgreSQL: OI hold p50, 16 concurrent")
    assert hold.ratio == 1.0 and "alternating" not in hold.note
