"""Part 1: mixed orders while the daemon is SIGKILLed at random moments and restarted."""

from __future__ import annotations

import pytest

from tests.reliability.crash import run_crash


def check(run) -> None:
    tally = run.tally
    assert run.kills == run.restarts and all(code == -9 for code in run.exits), run.exits
    assert run.settled, tally.report()
    assert tally.lost == 0, tally.report()
    assert tally.double_accepts == tally.double_rejects == tally.double_invoices == 0, tally.report()
    assert tally.missing_invoices == tally.duplicate_pages == tally.active_holds == 0, tally.report()
    assert tally.as_expected == tally.orders > 0


def test_five_kills_lose_no_order_and_double_nothing(tmp_path, figures):
    run = run_crash(tmp_path, orders=30, kills=5)
    figures(run.figures())
    check(run)


@pytest.mark.full
def test_twenty_kills_over_300_orders_lose_no_order_and_double_nothing(tmp_path, figures):
    run = run_crash(tmp_path, orders=300, kills=20)
    figures(run.figures())
    check(run)
