"""Fixtures: the SkyBox simulator on a loopback port, seeded with the contract suite's inventory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tevo_bridge_skybox_pos import SkyBoxPos
from tevo_bridge_skybox_pos.simulator import RunningSimulator, SimSettings, running


@pytest.fixture
def sim_settings() -> SimSettings:
    return SimSettings()


@pytest.fixture
def skybox(sim_settings: SimSettings, pos_inventory) -> Iterator[RunningSimulator]:
    with running(sim_settings, pos_inventory) as sim:
        yield sim


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

