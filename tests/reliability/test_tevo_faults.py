"""Part 2: TEvo failing 30% of calls, timing out after acting, rate-limiting, mangling and losing webhooks."""

from __future__ import annotations

import pytest

from tests.reliability.tevo_faults import run_tevo_faults


def check(run) -> None:
    tally = run.tally
    assert run.settled, tally.report()
    assert tally.lost == 0, tally.report()
    assert tally.double_accepts == tally.double_rejects == tally.double_invoices == 0, tally.report()
    assert tally.missing_invoices == tally.duplicate_pages == tally.active_holds == 0, tally.report()
    assert tally.as_expected == tally.orders > 0
    for fault in ("error_500", "error_503", "timeout", "rate_limit"):
        assert run.faults.get(fault, 0) > 0, f"no {fault} was injected: {run.faults}"
    assert run.faults.get("webhook_drop", 0) + run.faults.get("webhook_duplicate", 0) > 0, run.faults


def test_orders_survive_a_failing_tevo(tmp_path, figures):
    run = run_tevo_faults(tmp_path, orders=16)
    figures(run.figures())
    check(run)


@pytest.mark.full
def test_300_orders_survive_a_failing_tevo(tmp_path, figures):
    run = run_tevo_faults(tmp_path, orders=300, settle_timeout=600)
    figures(run.figures())
    check(run)
