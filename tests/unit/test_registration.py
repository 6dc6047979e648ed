"""The URLs to register with TEvo: built from [server] public_url, the webhook token never shown."""


import pytest
from pydantic import SecretStr
from tevo_bridge_sqlite_pos.store import init_db
from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.config import ConfigError, ServerSettings, load_settings
from tevo_bridge.registration import registration, registration_lines

TOKEN = "wxyzSECRETwebhookTOKENthatIsLong1234567890"
runner = CliRunner()


def urls(server: ServerSettings) -> dict[str, str]:
    return {e.name: e.url for e in registration(server).endpoints}


def test_urls_come_from_the_public_url_with_the_token_masked():
    server = ServerSettings(public_url="https://tickets.example.com/", webhook_token=SecretStr(TOKEN))
    assert urls(server) == {
        "webhook": "https://tickets.example.com/webhooks/tevo/wxyz…(masked)",
        "hold": "https://tickets.example.com/order-integration/holds",
        "release": "https://tickets.example.com/order-integration/holds/{global_id}/release",
        "invoice": "https://tickets.example.com/order-integration/invoices",
    }
    assert registration(server).notes == []
    assert TOKEN not in "\n".join(registration_lines(server))


def test_configured_paths_and_header_are_used():
    server = ServerSettings(public_url="https://t.example.com",
                            order_integration={"hold_path": "/oi/hold", "api_key_header": "X-Key"})
    assert urls(server)["hold"] == "https://t.example.com/oi/hold"
    assert "(header X-Key)" in "\n".join(registration_lines(server))


def test_without_public_url_the_urls_use_host_port_and_say_so():
    server = ServerSettings(host="::1", port=9000, webhook_token=SecretStr(TOKEN))
    assert urls(server)["invoice"] == "http://[::1]:9000/order-integration/invoices"
    assert any("public_url is not set" in note for note in registration(server).notes)


def test_a_short_or_missing_token_shows_nothing_of_it():
    assert urls(ServerSettings(webhook_token=SecretStr("abcdefgh")))["webhook"].endswith("/webhooks/tevo/…(masked)")
    assert any("webhook_token is not set" in n for n in registration(ServerSettings()).notes)


def test_public_url_must_be_http_or_https(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[server]\npublic_url = "tickets.example.com"\n')
    with pytest.raises(ConfigError, match="public_url"):
        load_settings(path)


def test_check_prints_the_urls_to_register(tmp_path, monkeypatch):
    monkeypatch.setenv("TEVO_BRIDGE_SERVER__WEBHOOK_TOKEN", TOKEN)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", "registration-test-token")
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "registration-test-secret")
    init_db(tmp_path / "pos.sqlite3")
    path = tmp_path / "config.toml"
    path.write_text('[tevo]\nreviewer_id = 4711\n[server]\npublic_url = "https://tickets.example.com"\n'
                    '[plugins.sqlite_pos]\ndatabase = "pos.sqlite3"\n')
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "POST https://tickets.example.com/webhooks/tevo/wxyz…(masked)" in result.output
    assert "POST https://tickets.example.com/order-integration/holds/{global_id}/release" in result.output
    assert TOKEN not in result.output
