"""Fixtures: the SkyBox simulator on a loopback port, seeded with the contract suite's inventory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from tevo_bridge_skybox_pos import SkyBoxPos
from tevo_bridge_skybox_pos.simulator import RunningSimulator, SimSettings, running


@pytest.fixture
def sim_settings() -> SimSettings:
    return SimSettings()


@pytest.fixture
def skybox(sim_settings: SimSettings, pos_inventory) -> Iterator[RunningSimulator]:
    """The simulator held to SkyBox's models: a test fails if it answered a shape SkyBox's client would refuse,
    or refused a body of the plugin's that SkyBox's models accept... or received one they refuse."""
    with running(replace(sim_settings, spec_check=True), pos_inventory) as sim:
        yield sim
        assert_spec_kept(sim)


def assert_spec_kept(sim: RunningSimulator) -> None:
    state = sim.state
    assert not state.spec_mismatches, "the simulator answered what SkyBox's models refuse:\n" + "\n".join(
        state.spec_mismatches[:20])
    assert not state.refused_bodies, "a body SkyBox's models refuse was sent:\n" + "\n".join(state.refused_bodies[:20])


@pytest.fixture
def make_plugin(skybox: RunningSimulator) -> Iterator:
    plugins: list[SkyBoxPos] = []

    def make(**changes: object) -> SkyBoxPos:
        plugin = SkyBoxPos(SkyBoxPos.Config.model_validate(skybox.plugin_settings(**changes)))
        plugins.append(plugin)
        return plugin

    yield make
    for plugin in plugins:
        plugin.client.close()

