"""Part 10: two replicas on PostgreSQL behind Caddy, SIGKILLed at random and with a database restart."""

from __future__ import annotations

import pytest

from tests.reliability.replicas import run_replicas
from tests.reliability.test_crash import check as check_kills


def check(run) -> None:
    assert run.db_restarts == 1
    assert run.crossing.holds == run.crossing.consistent > 0, run.crossing.problems
    check_kills(run)  # every kill restarted; nothing lost, doubled or left held
    # Each job a killed replica was running was claimed by the other within the lease (plus slack), not left.
    takeovers = run.takeovers
    assert not takeovers.missed, f"never taken over: jobs {takeovers.missed}"
    assert all(0 <= s <= takeovers.bound for s in takeovers.seconds), takeovers.seconds


def test_two_replicas_killed_four_times_and_a_database_restart_lose_and_double_nothing(tmp_path, figures):
    run = run_replicas(tmp_path, orders=40, kills=4, crossings=6)
    figures(run.figures())
    check(run)


@pytest.mark.full
def test_ten_kills_over_300_orders_on_two_replicas_lose_and_double_nothing(tmp_path, figures):
    run = run_replicas(tmp_path, orders=300, kills=10)
    figures(run.figures())
    check(run)
