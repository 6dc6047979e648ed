"""Parts 1 and 2 again, once, with the SkyBox plugin against its simulator as the POS."""

from __future__ import annotations

import pytest

from tests.reliability import test_crash, test_tevo_faults
from tests.reliability.crash import run_crash
from tests.reliability.tevo_faults import run_tevo_faults

pytest.importorskip("tevo_bridge_skybox_pos", reason="plugins/skybox_pos is not installed")


def test_kills_with_skybox_lose_no_order_and_double_nothing(tmp_path, figures):
    run = run_crash(tmp_path, orders=30, kills=5, pos="skybox")
    figures(run.figures())
    test_crash.check(run)


def test_orders_survive_a_failing_tevo_with_skybox(tmp_path, figures):
    run = run_tevo_faults(tmp_path, orders=16, pos="skybox")
    figures(run.figures())
    test_tevo_faults.check(run)


def test_a_skybox_outage_during_holds_answers_tevo_in_budget_and_loses_nothing(tmp_path, figures):
    import concurrent.futures
    import time

    import httpx

    from tests.reliability.checks import View, pos_sections, tally
    from tests.reliability.pos_faults import KEY, _timed_hold
    from tevo_bridge.loopback.stack import stack
    from tevo_bridge.sandbox.inventory import ETICKET, generated_inventory
    from tevo_bridge.sandbox.scenarios import Scenario

    budget = 2.0
    inventory = [g for g in generated_inventory(60, seed=3) if g.format == ETICKET][:16]
    with pos_sections("skybox", inventory, tmp_path) as (skybox, sections), \
            stack(tmp_path, inventory=inventory, log_level="info", server={"hold_budget": budget},
                  pipeline={"max_attempts": 100, "backoff_base": 0.05, "backoff_cap": 0.25}, **sections) as run:
        skybox.state.settings.faults.outage = True
        with httpx.Client(base_url=run.daemon.base_url, timeout=30) as client, \
                concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda g: _timed_hold(client, g.remote_id), inventory[:8]))
            made = [run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET) for _ in range(4)]
            time.sleep(1.0)
            skybox.state.settings.faults.outage = False
            after = [_timed_hold(client, g.remote_id) for g in inventory[8:10]]
            for status, _, global_id in after:
                if status == 200:  # TEvo would invoice or release it: release
                    client.post(f"/order-integration/holds/{global_id}/release", json={}, headers=KEY)
        view = View(run.sandbox, tmp_path / "state.sqlite3", run.pos_db, skybox)
        settled = view.wait(made, 90, poll=run.poll, poll_every=1.0)
        result = tally(view, made)
        figures({"outage_answers": sorted({a[0] for a in answers}), "slowest_s": max(a[1] for a in answers),
                 "after": [a[0] for a in after], **result.figures()})
    assert all(status != 200 for status, _, _ in answers), answers  # nothing promised while SkyBox is down
    assert max(seconds for _, seconds, _ in answers) < budget + 0.75, answers  # and answered within budget
    assert [status for status, _, _ in after] == [200, 200], after  # SkyBox back: holds work again
    assert settled and result.clean and result.as_expected == result.orders == 4, result.report()
    assert not skybox.state.live_holds()
