"""The alternating-rounds arithmetic the benchmarks steer by (benchmarks/rounds.py)."""

from __future__ import annotations

from benchmarks.rounds import Spread, alternate, alternate_all, as_rounds, ratios


def test_rounds_alternate_which_side_goes_first() -> None:
    order: list[str] = []

    def side(name: str):
        return lambda n: order.append(f"{name}{n}") or {"n": n}

    base, subject = alternate(4, side("b"), side("s"))
    assert order == ["b0", "s0", "s1", "b1", "b2", "s2", "s3", "b3"]
    assert [r["n"] for r in base] == [0, 1, 2, 3] and [r["n"] for r in subject] == [0, 1, 2, 3]


def test_a_ratio_is_the_median_of_per_round_ratios_not_the_ratio_of_medians() -> None:
    # Round 2's machine was twice as slow for both: per round the subject costs 3x, which is what counts.
    base = [{"p99": 2.0}, {"p99": 4.0}, {"p99": 2.0}]
    subject = [{"p99": 6.0}, {"p99": 12.0}, {"p99": 7.0}]
    got = ratios(subject, base, "p99")
    assert got == Spread(3.0, 3.0, 3.5, 3)
    assert got.text() == "3.00 (3.00–3.50)"


def test_results_saved_before_rounds_read_as_one_round() -> None:
    assert as_rounds({"p50": 1.0}) == [{"p50": 1.0}]
    assert as_rounds([{"p50": 1.0}]) == [{"p50": 1.0}]


def test_three_loads_alternate_so_none_always_follows_the_same_one() -> None:
    order: list[str] = []

    def side(name: str):
        return lambda n: order.append(f"{name}{n}") or {"n": n}

    base, floor, subject = alternate_all(3, side("b"), side("f"), side("s"))
    assert order == ["b0", "f0", "s0", "s1", "f1", "b1", "b2", "f2", "s2"]
    assert [r["n"] for r in floor] == [0, 1, 2] and [r["n"] for r in subject] == [0, 1, 2]
