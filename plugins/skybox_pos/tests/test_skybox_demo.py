"""``tevo-bridge demo --pos skybox``: the demo's scenarios through the SkyBox plugin and its simulator."""

from __future__ import annotations

from typer.testing import CliRunner

from tevo_bridge.cli import app


def test_demo_with_skybox_ends_every_order_where_its_scenario_says(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--pos", "skybox", "--orders", "26", "--seed", "3",
                                      "--keep", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "SkyBox simulator" in text and "every order ended where its scenario says" in text


def test_demo_refuses_an_unknown_pos():
    result = CliRunner().invoke(app, ["demo", "--pos", "lightspeed"])
    assert result.exit_code == 2 and "sqlite, skybox" in result.output
