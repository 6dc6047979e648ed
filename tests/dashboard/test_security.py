"""Issue 20, the admin side: it trusts only what it should (real daemons on loopback, real sockets).

Forwarded headers only from ``[server] trusted_proxies``; the admin listener answers only for its own host
names (DNS rebinding); every answer carries the browser protections; sessions are bound to the auth mode and
the password, and logouts live in the store; /openapi.json follows the dashboard's login; refused logins and
form tokens are logged once per window; the login limiter holds against a flood without slowing intake.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import (
    PASSWORD,
    PASSWORD_HASH,
    client,
    csrf_of,
    dashboard_daemon,
    seed_order,
)
from tests.reliability.login_flood import measure, password_daemon
from tevo_bridge.dashboard.auth import LOGIN_BUDGET, LOGIN_FAILURES_ALLOWED, hash_password
from tevo_bridge.dashboard.throttle import Throttle
from tevo_bridge.serve import RunningDaemon

PROTECTIONS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def from_address(daemon: RunningDaemon, address: str, **kwargs: Any) -> httpx.Client:
    """A client whose connections leave from another loopback address (all of 127.0.0.0/8 is this machine)."""
    return client(daemon, transport=httpx.HTTPTransport(local_address=address), **kwargs)


def login(http: httpx.Client, password: str = PASSWORD, name: str = "Alice") -> httpx.Response:
    form = http.get("/dashboard/login")
    return http.post("/dashboard/login", data={"csrf": csrf_of(form.text), "name": name, "password": password})


def audit_actions(daemon: RunningDaemon, action: str) -> list[str]:
    with sqlite3.connect(daemon.runtime.settings.store.path) as db:
        return [r[0] for r in db.execute("SELECT details FROM audit WHERE action = ? ORDER BY id", (action,))]


def assert_protected(response: httpx.Response) -> None:
    for header, value in PROTECTIONS.items():
        assert response.headers.get(header) == value, (response.url, header)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp, response.url


# -- DNS rebinding -------------------------------------------------------------------------------------------


def test_a_rebinding_host_name_is_refused_before_any_page_or_action(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, server={"admin_hosts": ["admin.tickets.example.com"]}) as daemon:
        seed_order(daemon, 1002, "needs_review", last_error="POS: unreachable")
        port = daemon.admin_url.rsplit(":", 1)[1]
        with client(daemon) as http:
            page = http.get("/dashboard/review")
            token = csrf_of(page.text)
            for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1.attacker.example:{port}", ""):
                refused = http.get("/dashboard/review", headers={"Host": host})
                assert refused.status_code == 421, host
                assert refused.json()["error"] == "unknown_host" and "admin_hosts" in refused.json()["detail"]
                assert "needs_review" not in refused.text and "POS: unreachable" not in refused.text
                assert_protected(refused)
                retried = http.post("/dashboard/orders/1002/retry", headers={"Host": host},
                                    data={"csrf": token, "from": "review"})
                assert retried.status_code == 421
            assert daemon.runtime.store.sync.get_order(1002).state == "needs_review"
            for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "127.0.0.2",
                         f"admin.tickets.example.com:{port}", "ADMIN.tickets.example.com"):
                assert http.get("/dashboard/review", headers={"Host": host}).status_code == 200, host


# -- browser protections on every answer ---------------------------------------------------------------------


def test_every_admin_answer_carries_the_browser_protections_and_nothing_loads_from_elsewhere(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as daemon:
        with client(daemon) as http:
            assert login(http).status_code == 303
            for path in ("/dashboard/", "/dashboard/login", "/dashboard/orders?state=nope", "/dashboard/no-page",
                         "/dashboard/static/dashboard.css", "/metrics", "/livez", "/readyz", "/no-page", "/docs"):
                assert_protected(http.get(path))
            assert http.get("/docs").status_code == 404  # no Swagger UI from a CDN in the dashboard's origin
            html = http.get("/dashboard/").text
            assert "<script>" not in html and " style=" not in html and " onclick=" not in html
            assert '"includeIndicatorStyles": false' in html


def test_openapi_follows_the_dashboards_login_and_metrics_stays_open(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as daemon:
        with client(daemon) as http:
            moved = http.get("/openapi.json")
            assert moved.status_code == 307 and moved.headers["location"] == "/dashboard/openapi.json"
            gate = http.get("/dashboard/openapi.json")
            assert gate.status_code == 303 and gate.headers["location"].startswith("/dashboard/login")
            assert http.get("/metrics").status_code == 200  # for Prometheus: counts and timings, no buyer data
            login(http)
            document = http.get("/openapi.json", follow_redirects=True)
            assert document.status_code == 200 and "/order-integration/holds" in document.json()["paths"]
    with dashboard_daemon(tmp_path / "open", pos_db) as daemon, client(daemon) as http:
        assert "/order-integration/holds" in http.get("/openapi.json").json()["paths"]  # loopback, no login


# -- forwarded headers only from trusted proxies ----------------------------------------------------------------


def test_a_loopback_client_cannot_pick_its_own_address_unless_it_is_a_trusted_proxy(tmp_path, pos_db):
    spoof = {"X-Forwarded-For": "203.0.113.9"}
    with dashboard_daemon(tmp_path, pos_db) as daemon, client(daemon, headers=spoof) as http:
        page = http.get("/dashboard/").text
        assert "operator at 127.0.0.1" in page and "203.0.113.9" not in page
    with dashboard_daemon(tmp_path / "behind", pos_db, server={"trusted_proxies": ["127.0.0.1/32"]}) as daemon:
        with client(daemon, headers=spoof) as http:
            assert "operator at 203.0.113.9" in http.get("/dashboard/").text
        with from_address(daemon, "127.0.0.3", headers=spoof) as http:  # not a trusted proxy
            assert "operator at 127.0.0.3" in http.get("/dashboard/").text


@pytest.mark.parametrize("trusted, expected", [([], 404), (["127.0.0.1"], 400)])
def test_webhook_allowed_ips_see_the_client_a_trusted_proxy_names_and_nothing_else(tmp_path, pos_db, trusted,
                                                                                  expected):
    from tests.integration.conftest import WEBHOOK_TOKEN

    with dashboard_daemon(tmp_path, pos_db, server={"allowed_ips": ["203.0.113.7"], "trusted_proxies": trusted}) \
            as daemon, httpx.Client(base_url=daemon.base_url, timeout=10) as http:
        answer = http.post(f"/webhooks/tevo/{WEBHOOK_TOKEN}", headers={"X-Forwarded-For": "203.0.113.7"})
        assert answer.status_code == expected  # 404: refused by allowed_ips; 400: let through, the body is empty


def test_proxy_mode_believes_one_user_header_from_a_trusted_proxy_only(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, server={"trusted_proxies": ["127.0.0.1"]}, auth="proxy") as daemon:
        with client(daemon, headers={"X-Forwarded-User": "carol@example.com"}) as http:
            assert "carol@example.com" in http.get("/dashboard/").text
        twice = [("X-Forwarded-User", "carol@example.com"), ("X-Forwarded-User", "admin")]
        with client(daemon) as http:
            refused = http.get("/dashboard/", headers=twice)
            assert refused.status_code == 401 and "2 X-Forwarded-User headers" in refused.text
            assert "carol" not in refused.text and "admin" not in refused.text.replace("tevo-bridge admin", "")
        with from_address(daemon, "127.0.0.4", headers={"X-Forwarded-User": "carol@example.com"}) as http:
            untrusted = http.get("/dashboard/")
            assert untrusted.status_code == 401 and "trusted proxy" in untrusted.text


# -- sessions --------------------------------------------------------------------------------------------------


def test_a_cookie_from_a_no_login_dashboard_does_not_open_the_password_protected_one(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db) as open_one, client(open_one) as http:  # same session_secret
        http.get("/dashboard/")
        minted = dict(http.cookies)
    assert minted
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as guarded:
        with client(guarded, cookies=minted) as http:
            answer = http.get("/dashboard/review")
            assert answer.status_code == 303 and "/dashboard/login" in answer.headers["location"]


def test_changing_the_password_ends_every_session(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as daemon:
        with client(daemon) as http:
            login(http)
            cookies = dict(http.cookies)
            assert http.get("/dashboard/review").status_code == 200
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as same:
        with client(same, cookies=cookies) as http:
            assert http.get("/dashboard/review").status_code == 200  # a restart alone keeps it
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=hash_password("a new passphrase")) \
            as changed, client(changed, cookies=cookies) as http:
        assert http.get("/dashboard/review").status_code == 303


def test_a_logout_holds_after_a_restart(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as daemon:
        with client(daemon) as http:
            login(http)
            stolen = dict(http.cookies)
            page = http.get("/dashboard/review")
            assert http.post("/dashboard/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as restarted:
        with client(restarted, cookies=stolen) as replay:
            assert replay.get("/dashboard/review").status_code == 303, "a logged-out session worked after a restart"


# -- refusals logged once per window -----------------------------------------------------------------------------


def test_refused_logins_and_form_tokens_are_audited_once_per_window_per_address(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as daemon:
        with client(daemon) as http:
            statuses = [login(http, password="guess").status_code for _ in range(LOGIN_FAILURES_ALLOWED)]
            assert statuses == [401] * LOGIN_FAILURES_ALLOWED
            http.get("/dashboard/login")
            for _ in range(10):
                assert http.post("/dashboard/login", data={"name": "M", "password": "x"}).status_code == 403
        with from_address(daemon, "127.0.0.5") as other:
            assert login(other, password="guess").status_code == 401
        refused = audit_actions(daemon, "dashboard_login_refused")
        assert len(refused) == 2 and '"client":"127.0.0.1"' in refused[0] and '"client":"127.0.0.5"' in refused[1]
        assert len(audit_actions(daemon, "dashboard_csrf_refused")) == 1


def test_the_throttle_reports_how_many_it_left_out():
    now = [0.0]
    throttle = Throttle(window=60, clock=lambda: now[0], max_keys=3)
    assert throttle.note("login_refused", "10.0.0.1") == 0
    assert [throttle.note("login_refused", "10.0.0.1") for _ in range(4)] == [None] * 4
    assert throttle.note("csrf_refused", "10.0.0.1") == 0  # another reason: its own window
    now[0] = 61.0
    assert throttle.note("login_refused", "10.0.0.1") == 4
    for i in range(100):  # a spread of peers keeps memory bounded
        throttle.note("login_refused", f"10.1.0.{i}")
    assert len(throttle._windows) <= 3


# -- the login flood ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spread", [False, True], ids=["one-address-spoofing-x-forwarded-for", "48-addresses"])
def test_a_login_flood_is_refused_after_the_budget_while_holds_are_answered(tmp_path, pos_db, spread):
    with password_daemon(tmp_path, pos_db) as daemon:
        run = measure(daemon, spread)
        baseline, holds, counts = run.baseline, run.holds, run.counts
        latencies = [seconds * 1000 for _, seconds in holds]
        print(f"\nlogin flood ({'48 addresses' if spread else '1 address, spoofed X-Forwarded-For'}): answers "
              f"{dict(counts)}; holds meanwhile: {len(holds)}, median {statistics.median(latencies):.0f} ms, "
              f"max {max(latencies):.0f} ms, statuses {dict(Counter(s for s, _ in holds))}; before the flood: "
              f"median {statistics.median(s * 1000 for _, s in baseline):.0f} ms")
        assert set(counts) <= {401, 429, 503}, counts
        checked = counts[401]
        assert checked <= (LOGIN_BUDGET if spread else LOGIN_FAILURES_ALLOWED), counts
        assert counts[429] >= 48 - (LOGIN_BUDGET if spread else LOGIN_FAILURES_ALLOWED), counts
        assert holds and all(status == 200 for status, _ in holds), Counter(s for s, _ in holds)
        with from_address(daemon, "127.0.0.200") as late:  # after the budget: refused at once, even elsewhere
            answer = login(late, password=PASSWORD if spread else "guess")
            assert answer.status_code == (429 if spread else 401)
        with client(daemon) as again:
            assert login(again).status_code == 429  # the flooding address, even with the right password
