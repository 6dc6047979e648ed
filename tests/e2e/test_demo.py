"""The demo a new user runs first: every order ends where its scenario says."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.demo import plan, run_demo
from tevo_bridge.sandbox.scenarios import Channel, Scenario


def test_plan_covers_every_scenario_and_all_three_channels():
    planned = plan(39)
    assert {s for s, _ in planned} == set(Scenario)
    channels = {c for _, cs in planned for c in cs}
    assert channels == {Channel.WEBHOOK, Channel.POLL, Channel.ORDER_INTEGRATION}


def test_demo_orders_all_end_as_expected(tmp_path):
    out = io.StringIO()
    result = run_demo(orders=26, seed=3, keep=tmp_path, console=Console(file=out, width=120))
    assert result.ok, out.getvalue()
    assert len(result.orders) == 26
    text = out.getvalue()
    assert "every order ended where its scenario says" in text and "median" in text
    assert (tmp_path / "daemon.log").stat().st_size > 0 and (tmp_path / "state.sqlite3").exists()
    assert "tevo-bridge dashboard serve --config" in text and (tmp_path / "dashboard.toml").exists()


def test_demo_command_exits_0(tmp_path):
    """The CI smoke run of the issue: ``tevo-bridge demo --orders 20`` (README's block runs the default 50)."""
    result = CliRunner().invoke(app, ["demo", "--orders", "20", "--keep", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output


def test_demo_without_keep_removes_its_temporary_folder():
    out = io.StringIO()
    result = run_demo(orders=13, seed=4, console=Console(file=out, width=120))
    assert result.ok, out.getvalue()
    assert result.folder is not None and not result.folder.exists()
    assert f"removed {result.folder}" in " ".join(out.getvalue().split()) and "--keep" in out.getvalue()
