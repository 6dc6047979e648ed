"""Password hashes, signed sessions and the login limiter, and the CLI that makes a hash."""

from __future__ import annotations

from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.dashboard.auth import LoginLimiter, Sessions, csrf_ok, hash_password, verify_password


def test_a_hash_verifies_its_password_only():
    stored = hash_password("a long passphrase")
    assert stored.startswith("scrypt$") and "a long passphrase" not in stored
    assert verify_password("a long passphrase", stored)
    assert not verify_password("a long passphrase ", stored)
    assert hash_password("a long passphrase") != stored  # salted
    for broken in ("", "plain", "scrypt$x$8$1$salt$hash", "scrypt$16384$8$1$!!$??", "md5$1$2$3$4$5"):
        assert not verify_password("a long passphrase", broken)


def test_a_session_cookie_cannot_be_forged_or_replayed_after_logout():
    sessions = Sessions("secret-one", max_age=3600)
    session = sessions.new("alice")
    cookie = sessions.dump(session)
    assert sessions.load(cookie) == session
    assert Sessions("secret-two", max_age=3600).load(cookie) is None
    assert sessions.load(cookie[:-2] + "xx") is None and sessions.load("") is None and sessions.load("x" * 5000) is None
    assert csrf_ok(session, session.csrf) and not csrf_ok(session, "guess") and not csrf_ok(None, session.csrf)


def test_a_session_cookie_is_refused_by_another_auth_mode_or_after_a_password_change():
    old_hash, new_hash = "scrypt$16384$8$1$c2FsdA$b2xk", "scrypt$16384$8$1$c2FsdA$bmV3"
    no_login = Sessions("shared-secret", max_age=3600, mode="none")
    cookie = no_login.dump(no_login.new("operator at 127.0.0.1"))
    assert no_login.load(cookie) is not None
    assert Sessions("shared-secret", max_age=3600, mode="password", password_hash=old_hash).load(cookie) is None
    assert Sessions("shared-secret", max_age=3600, mode="proxy").load(cookie) is None
    before = Sessions("shared-secret", max_age=3600, mode="password", password_hash=old_hash)
    logged_in = before.dump(before.new("alice"))
    assert before.load(logged_in) is not None
    assert Sessions("shared-secret", max_age=3600, mode="password", password_hash=new_hash).load(logged_in) is None
    assert old_hash not in before.fingerprint and len(before.fingerprint) == 16


def test_the_limiter_blocks_an_address_after_its_failures_and_not_others():
    now = [0.0]
    limiter = LoginLimiter(allowed=3, window=60, budget=100, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.attempt("10.0.0.1") == 0
    assert 0 < limiter.attempt("10.0.0.1") <= 61
    assert limiter.attempt("10.0.0.2") == 0
    limiter.succeeded("10.0.0.1")
    assert limiter.attempt("10.0.0.1") == 0
    now[0] = 61.0  # the window passed: everything aged out, nothing is remembered
    assert limiter.attempt("10.0.0.3") == 0 and limiter.remembered() == 1


def test_the_limiter_keeps_a_global_budget_against_a_spray_of_addresses_in_bounded_memory():
    now = [0.0]
    limiter = LoginLimiter(allowed=5, window=60, budget=20, clock=lambda: now[0])
    answers = [limiter.attempt(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}") for i in range(50_000)]
    assert answers[:20] == [0] * 20 and all(0 < wait <= 61 for wait in answers[20:])
    assert limiter.remembered() == 20  # not 50,000, and none of the 20 forgotten
    now[0] = 30.0
    assert limiter.attempt("10.0.0.0") > 0  # an offender inside the window is still refused
    now[0] = 61.0
    assert limiter.attempt("192.0.2.1") == 0


def test_hash_password_reads_stdin_and_refuses_a_short_one():
    made = CliRunner().invoke(app, ["dashboard", "hash-password"], input="a long passphrase\n")
    assert made.exit_code == 0 and verify_password("a long passphrase", made.output.strip())
    short = CliRunner().invoke(app, ["dashboard", "hash-password"], input="short\n")
    assert short.exit_code == 2 and "at least 8" in short.output


def test_check_refuses_password_mode_without_a_hash(tmp_path):
    from tevo_bridge.config import Settings
    from tevo_bridge.validation import validate

    problems = validate(Settings(dashboard={"auth": "password"}))
    assert any("password_hash" in p.message and p.severity == "error" for p in problems)
    wide = validate(Settings(server={"admin_port": 9180, "admin_host": "0.0.0.0"}))
    assert any("auth = \"none\"" in p.message and p.severity == "error" and "hash-password" in p.message
               for p in wide)
    assert any("admin_hosts" in p.message and p.severity == "warning" for p in wide)
    named = validate(Settings(server={"admin_port": 9180, "admin_host": "0.0.0.0", "admin_hosts": ["10.0.0.5"]},
                              dashboard={"auth": "password", "password_hash": hash_password("a long passphrase")}))
    assert not [p for p in named if "admin_h" in p.message or "auth" in p.message], named
    proxy = validate(Settings(server={"admin_port": 9180}, dashboard={"auth": "proxy"}))
    assert any("trusted_proxies" in p.message and p.severity == "error" for p in proxy)
    trusted = validate(Settings(server={"admin_port": 9180, "trusted_proxies": ["127.0.0.1"]},
                                dashboard={"auth": "proxy"}))
    assert not any("trusted_proxies" in p.message for p in trusted)


def test_a_reason_gets_advice_unless_it_names_its_fix():
    from tevo_bridge.dashboard.figures import GENERIC_ADVICE, advice

    assert "quantity and price in the POS" in advice("cannot supply: item 1 (88702): only 1 left")
    assert "other_office_buyers" in advice('buyer is Office 12, not TEvo; [pipeline] other_office_buyers = '
                                           '"needs_review"')
    assert "Bring the POS" in advice("pos_hold: no answer within 3s")
    assert advice("not accepted ... Then run `tevo-bridge orders retry 5`") is None
    assert advice("[fulfillment.local_pickup] contact_name is empty. Fix: set it") is None
    assert advice("something new") == GENERIC_ADVICE


def test_check_says_where_the_dashboard_is(tmp_path, monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    from tevo_bridge_sqlite_pos import store

    config = tmp_path / "config.toml"
    config.write_text((root / "config.example.toml").read_text())
    store.init_db(tmp_path / "pos.sqlite3")
    for name, value in (("TEVO__TOKEN", "Y" * 32), ("TEVO__SECRET", "Z" * 40), ("TEVO__REVIEWER_ID", "4711")):
        monkeypatch.setenv(f"TEVO_BRIDGE_{name}", value)
    off = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert off.exit_code == 0 and "dashboard: off until [server] admin_port is set" in off.output
    monkeypatch.setenv("TEVO_BRIDGE_SERVER__ADMIN_PORT", "9180")
    monkeypatch.setenv("TEVO_BRIDGE_DASHBOARD__AUTH", "password")
    monkeypatch.setenv("TEVO_BRIDGE_DASHBOARD__PASSWORD_HASH", hash_password("a long passphrase"))
    on = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert on.exit_code == 0, on.output
    assert "dashboard: http://127.0.0.1:9180/dashboard/ (auth password, times in UTC)" in on.output
    assert "scrypt$" not in on.output


def test_trusted_proxies_and_admin_hosts_refuse_what_they_cannot_mean():
    import pytest
    from pydantic import ValidationError

    from tevo_bridge.config import Settings

    server = Settings(server={"trusted_proxies": [" 10.0.0.0/8", "::1"], "admin_hosts": ["Admin.Example.com",
                                                                                         "[::1]"]}).server
    assert server.trusted_proxies == ["10.0.0.0/8", "::1"] and server.admin_hosts == ["admin.example.com", "::1"]
    for bad in ({"trusted_proxies": ["caddy"]}, {"trusted_proxies": ["10.0.0.0/33"]},
                {"admin_hosts": ["https://admin.example.com"]}, {"admin_hosts": ["admin.example.com:9180"]}):
        with pytest.raises(ValidationError) as raised:
            Settings(server=bad)
        assert next(iter(bad)) in str(raised.value) and "e.g." in str(raised.value), bad
