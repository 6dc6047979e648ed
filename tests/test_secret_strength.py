"""Issue 20, item 12: ``check`` and ``run`` refuse guessable secrets and cheap password hashes, alike."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.dashboard.auth import hash_password

runner = CliRunner()
LONG = "L" * 32
FIX = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", "T" * 32)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "S" * 40)
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__REVIEWER_ID", "4711")


def config_with(tmp_path: Path, body: str) -> Path:
    """A config that is fine but for ``body``: the sqlite POS, a real (empty) database, a port to listen on."""
    import sqlite3

    sqlite3.connect(tmp_path / "pos.sqlite3").close()
    config = tmp_path / "config.toml"
    config.write_text('[pos]\nplugin = "sqlite_pos"\n[plugins.sqlite_pos]\ndatabase = "pos.sqlite3"\n'
                      f'[store]\npath = "{tmp_path / "state.sqlite3"}"\n{body}')
    return config


def check_and_run(config: Path) -> tuple[object, object]:
    return (runner.invoke(app, ["check", "--config", str(config)]),
            runner.invoke(app, ["run", "--config", str(config)]))


def scrypt_hash(n: int = 2**14, r: int = 8, p: int = 1, salt: bytes = b"s" * 16, dklen: int = 32) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    digest = hashlib.scrypt(b"password", salt=salt, n=n, r=r, p=p, dklen=dklen)
    return f"scrypt${n}${r}${p}${b64(salt)}${b64(digest)}"


@pytest.mark.parametrize(("body", "where"), [
    ('[server]\nwebhook_token = "short-token"\n', "[server] webhook_token is 11 characters"),
    (f'[server.order_integration]\napi_keys = ["{LONG}", "k"]\n',
     "[server.order_integration] api_keys (entry 2) is 1 characters"),
    ('[dashboard]\nsession_secret = "x"\n', "[dashboard] session_secret is 1 characters"),
])
def test_a_short_secret_is_refused_by_check_and_run_naming_the_key_and_the_fix(tmp_path, credentials, body, where):
    config = config_with(tmp_path, body)

    check, run = check_and_run(config)

    assert (check.exit_code, run.exit_code) == (2, 2)
    assert check.output == run.output
    assert f"error: {config}: {where}; secrets need at least 32. " in check.output
    assert FIX in check.output
    for secret in ("short-token", '"k"', 'session_secret = "x"'):
        assert secret not in check.output


def test_the_key_set_by_a_variable_is_named_by_the_variable(tmp_path, credentials, monkeypatch):
    monkeypatch.setenv("TEVO_BRIDGE_SERVER__WEBHOOK_TOKEN", "abc")
    check, run = check_and_run(config_with(tmp_path, ""))

    assert (check.exit_code, run.exit_code) == (2, 2)
    assert "error: TEVO_BRIDGE_SERVER__WEBHOOK_TOKEN is 3 characters" in check.output


def test_32_character_secrets_pass_check(tmp_path, credentials):
    config = config_with(tmp_path, f'[server]\nwebhook_token = "{LONG}"\n[server.order_integration]\n'
                                   f'api_keys = ["{LONG}", "{"K" * 40}"]\n[dashboard]\nsession_secret = "{LONG}"\n')

    check = runner.invoke(app, ["check", "--config", str(config)])

    assert check.exit_code == 0, check.output
    assert "secrets need" not in check.output


def test_tevos_own_token_and_secret_are_not_held_to_our_length(tmp_path, monkeypatch, credentials):
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__TOKEN", "t")
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "s")

    check = runner.invoke(app, ["check", "--config", str(config_with(tmp_path, ""))])

    assert check.exit_code == 0, check.output
    assert "secrets need" not in check.output


@pytest.mark.parametrize(("weak", "named"), [
    (scrypt_hash(n=2), "N = 2 (at least 16384)"),
    (scrypt_hash(r=1), "r = 1 (at least 8)"),
    (scrypt_hash(salt=b"s" * 4), "salt bytes = 4 (at least 16)"),
    (scrypt_hash(dklen=8), "digest bytes = 8 (at least 32)"),
])
def test_a_cheap_password_hash_is_refused_by_check_and_run(tmp_path, credentials, weak, named):
    config = config_with(tmp_path, f'[dashboard]\nauth = "password"\npassword_hash = "{weak}"\n')

    check, run = check_and_run(config)

    assert (check.exit_code, run.exit_code) == (2, 2)
    assert check.output == run.output
    assert f"error: {config}: [dashboard] password_hash: scrypt parameters too weak" in check.output
    assert named in check.output and "tevo-bridge dashboard hash-password" in check.output
    assert weak not in check.output


def test_the_hash_hash_password_prints_passes(tmp_path, credentials):
    config = config_with(tmp_path, f'[dashboard]\nauth = "password"\npassword_hash = "{hash_password("pw")}"\n')

    check = runner.invoke(app, ["check", "--config", str(config)])

    assert check.exit_code == 0, check.output
