"""The SkyBox benchmark's baseline: the SkyBox calls each hook makes, counted on the simulator."""

import pytest

pytest.importorskip("tevo_bridge_skybox_pos", reason="plugins/skybox_pos is not installed")

from benchmarks.skybox import SEQUENTIAL_TRIPS, round_trips_per_hook  # noqa: E402


def test_a_hold_costs_three_calls_and_a_replay_two() -> None:
    trips = round_trips_per_hook()
    assert (trips["pos_hold"], trips["pos_hold (replay)"]) == (3, 2)
    assert SEQUENTIAL_TRIPS == trips["pos_hold"] - 1, "the hold's two look-ups go out together"
    assert all(n >= 1 for n in trips.values()), trips
