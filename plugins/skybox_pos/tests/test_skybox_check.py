"""``tevo-bridge check --online`` proves the SkyBox credentials with ``GET /account`` and names a wrong header."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.sandbox.server import running_sandbox


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox(seed=5) as running:
        yield running


@pytest.fixture
def config(sandbox, skybox, tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text(f'[tevo]\nbase_url = "{sandbox.base_url}"\nreviewer_id = {sandbox.reviewer_id}\n'
                    f'[pos]\nplugin = "skybox_pos"\n'
                    f'[plugins.skybox_pos]\nbase_url = "{skybox.base_url}"\naccount_id = {skybox.credentials.account}\n')
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", sandbox.token)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", sandbox.secret)
    monkeypatch.setenv("TEVO_BRIDGE_PLUGINS__SKYBOX_POS__API_TOKEN", skybox.credentials.api_token)
    monkeypatch.setenv("TEVO_BRIDGE_PLUGINS__SKYBOX_POS__APPLICATION_TOKEN", skybox.credentials.application_token)
    return path


def test_check_online_calls_get_account(config, skybox):
    ok = CliRunner().invoke(app, ["check", "--online", "--config", str(config)])
    assert ok.exit_code == 0 and "plugin OK: skybox_pos started; pos_health: ok" in ok.output, ok.output
    assert ("GET", "/account") in skybox.state.calls


def test_check_online_names_a_wrong_token_and_masks_it(config, skybox, monkeypatch):
    wrong = "5e1f0c2a-7777-4d2b-9c3e-0123456789ab"
    monkeypatch.setenv("TEVO_BRIDGE_PLUGINS__SKYBOX_POS__APPLICATION_TOKEN", wrong)
    refused = CliRunner().invoke(app, ["check", "--online", "--config", str(config)])
    assert refused.exit_code == 2 and "X-Application-Token" in refused.output, refused.output
    assert wrong not in refused.output and skybox.credentials.api_token not in refused.output


def test_check_online_names_a_wrong_account(config, skybox):
    config.write_text(config.read_text().replace(f"account_id = {skybox.credentials.account}", "account_id = 12"))
    refused = CliRunner().invoke(app, ["check", "--online", "--config", str(config)])
    assert refused.exit_code == 2 and "X-Account is wrong" in refused.output, refused.output


def test_check_offline_names_a_missing_token(config, monkeypatch):
    monkeypatch.delenv("TEVO_BRIDGE_PLUGINS__SKYBOX_POS__API_TOKEN")
    refused = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert refused.exit_code == 2 and "api_token" in refused.output, refused.output


def test_check_online_fails_on_pos_health_when_the_start_did_not_verify(config, skybox, monkeypatch):
    """verify_on_start off: the plugin starts with a wrong token, and pos_health is what catches it."""
    config.write_text(config.read_text() + "verify_on_start = false\n")
    wrong = "0c0ffee0-7777-4d2b-9c3e-0123456789ab"
    monkeypatch.setenv("TEVO_BRIDGE_PLUGINS__SKYBOX_POS__API_TOKEN", wrong)
    refused = CliRunner().invoke(app, ["check", "--online", "--config", str(config)])
    assert refused.exit_code == 2 and "plugin OK" not in refused.output, refused.output
    assert "pos_health says the POS cannot be used" in refused.output and "X-Api-Token" in refused.output
    assert wrong not in refused.output and skybox.credentials.application_token not in refused.output


def test_check_online_fails_on_pos_health_when_skybox_is_down(config, skybox):
    """Nothing listens at the configured address (port 9, discard, is closed on loopback)."""
    text = config.read_text().replace(f'base_url = "{skybox.base_url}"', 'base_url = "http://127.0.0.1:9"')
    config.write_text(text + "verify_on_start = false\n")
    refused = CliRunner().invoke(app, ["check", "--online", "--config", str(config)])
    assert refused.exit_code == 2 and "pos_health says the POS cannot be used" in refused.output, refused.output
