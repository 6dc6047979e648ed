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
