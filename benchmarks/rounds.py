"""Alternating rounds: how a ratio against a baseline is measured so that one lucky run cannot steer.

On a shared two-core machine the bare endpoint's own p99 swings twofold from run to run, so a
ratio of two single runs taken minutes apart says more about the machine than the code. Each
round here runs the baseline and the subject back to back under the same load, in alternating
order (so neither always gets the warm or the cold slot); a figure is the median over the rounds
of the per-round ratio, reported with its min-max spread.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]


def alternate(rounds: int, baseline: Callable[[int], Result], subject: Callable[[int], Result]
              ) -> tuple[list[Result], list[Result]]:
    """Run ``baseline`` and ``subject`` (each given the round number) ``rounds`` times, in alternating order."""
    base, measured = alternate_all(rounds, baseline, subject)
    return base, measured


def alternate_all(rounds: int, *loads: Callable[[int], Result]) -> list[list[Result]]:
    """Run each of ``loads`` once per round, in the given order in even rounds and reversed in odd ones
    (so no load always follows the same one); returns each load's results, round by round."""
    results: list[list[Result]] = [[] for _ in loads]
    for n in range(rounds):
        order = list(range(len(loads)))
        for i in order if n % 2 == 0 else reversed(order):
            results[i].append(loads[i](n))
    return results


@dataclass(frozen=True)
class Spread:
    """The median and the min-max of one quantity over the rounds."""

    median: float
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def text(self, digits: int = 2, unit: str = "") -> str:
        return f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}–{self.high:.{digits}f}{unit})"


def values(results: Sequence[Result], key: str) -> list[float]:
    return [float(r[key]) for r in results]


def spread(results: Sequence[Result], key: str) -> Spread:
    return Spread.of(values(results, key))


def ratios(subject: Sequence[Result], baseline: Sequence[Result], key: str) -> Spread:
    """The per-round ratio subject/baseline of ``key`` (each round against its own baseline)."""
    return Spread.of([s[key] / b[key] for s, b in zip(subject, baseline, strict=True) if b[key]])


def as_rounds(value: Result | list[Result]) -> list[Result]:
    """Results saved before rounds existed were one run: read them as one round."""
    return value if isinstance(value, list) else [value]
