"""Part 8: a checkout hold and a webhook order for the same last tickets, in every order of arrival."""

from __future__ import annotations

import pytest

from tests.reliability.race import ARRIVALS, run_races


def check(run) -> None:
    assert run.wrong == [], run.figures()
    assert run.races == sum(run.winners.values()) > 0
    assert set(run.by_arrival) == set(ARRIVALS)
    assert run.winners["hold"] and run.winners["order"], "each side must win some races, or nothing was raced"


def test_every_race_for_the_last_tickets_has_exactly_one_winner(tmp_path, figures):
    run = run_races(tmp_path, rounds=2)
    figures(run.figures())
    check(run)


@pytest.mark.full
def test_a_hundred_and_fifty_races_each_have_exactly_one_winner(tmp_path, figures):
    run = run_races(tmp_path, rounds=50)
    figures(run.figures())
    check(run)
