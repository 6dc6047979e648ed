"""Every dashboard route through the daemon's real admin listener: status codes, auth, paging, hostile input."""

from __future__ import annotations

import re
import sqlite3

import httpx
import pytest

from tests.dashboard.conftest import (
    PASSWORD,
    SECRETS,
    client,
    csrf_of,
    dashboard_daemon,
    seed_order,
)
from tevo_bridge.store import SCHEMA_VERSION

PAGES = ("/dashboard/", "/dashboard/review", "/dashboard/orders", "/dashboard/orders/1001", "/dashboard/holds",
         "/dashboard/system")
SNAPSHOT = {"buyer": {"type": "Client", "id": 77, "name": "Megan Alvarez",
                      "email_addresses": [{"address": "megan@example.com"}]},
            "items": [{"quantity": 2, "price": "120.00", "eticket_finalized": True, "eticket_pdf_pages": 2,
                       "ticket_group": {"remote_id": "88702", "section": "112", "row": "8", "seats": ["5", "6"],
                                        "format": "Eticket", "event": {"name": "Celtics at Knicks"}}}],
            "shipments": [{"id": 9, "type": "FedEx", "state": "shipped", "tracking_number": "7712 3456",
                           "ship_to_name": "Megan Alvarez", "airbill": "saved"}]}


@pytest.fixture
def open_dash(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db) as daemon:
        seed_order(daemon, 1001, "done", invoice_id="INV-7", snapshot=SNAPSHOT, buyer_type="Client", buyer_id=77)
        seed_order(daemon, 1002, "needs_review", last_error="cannot supply: listing 88702 has 0 left. Fix: restock")
        yield daemon


@pytest.fixture
def password_dash(tmp_path, pos_db):
    from tests.dashboard.conftest import PASSWORD_HASH

    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as daemon:
        seed_order(daemon, 1002, "needs_review", last_error="POS: unreachable")
        yield daemon


def login(http: httpx.Client, name: str = "Alice", password: str = PASSWORD) -> httpx.Response:
    form = http.get("/dashboard/login")
    return http.post("/dashboard/login", data={"csrf": csrf_of(form.text), "name": name, "password": password,
                                               "next": "/dashboard/review"})


def test_every_page_answers_and_shows_what_the_store_holds(open_dash):
    with client(open_dash) as http:
        for path in PAGES:
            response = http.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["cache-control"] == "no-store"
        overview = http.get("/dashboard/").text
        assert "1</strong> order needs a person" in overview and f"store schema version {SCHEMA_VERSION}" in overview
        review = http.get("/dashboard/review").text
        assert "Order 1002" in review and "listing 88702 has 0 left. Fix: restock" in review
        detail = http.get("/dashboard/orders/1001").text
        for fact in ("INV-7", "Megan Alvarez", "megan@example.com", "Celtics at Knicks", "7712 3456",
                     "delivered (2 pages)", "seeded by the test"):
            assert fact in detail, fact
        assert http.get("/", follow_redirects=True).url.path == "/dashboard/"


def test_the_dashboard_is_only_on_the_admin_listener(open_dash):
    assert httpx.get(open_dash.base_url + "/dashboard/", timeout=10).status_code == 404


def test_unknown_order_and_unknown_page_are_404_pages(open_dash):
    with client(open_dash) as http:
        assert http.get("/dashboard/orders/424242").status_code == 404
        assert "is not in the store" in http.get("/dashboard/orders/424242").text
        assert http.get("/dashboard/nope").status_code == 404


@pytest.mark.parametrize("query", [
    "state=bogus", "state=%3Cscript%3Ealert(1)%3C/script%3E", "channel=carrier-pigeon", "order=abc",
    "order=-5", "order=99999999999999999999999", "from=2026-13-45", "to=yesterday", "before=1e9",
    "before=%00", "invoice=" + "x" * 500, "buyer=a%00b", "order=%D9%A3",
])
def test_hostile_query_strings_are_400_pages_that_echo_nothing_unescaped(open_dash, query):
    with client(open_dash) as http:
        response = http.get(f"/dashboard/orders?{query}")
        assert response.status_code == 400, query
        assert "<script>" not in response.text
        assert response.headers["content-type"].startswith("text/html")
    assert httpx.get(open_dash.admin_url + "/dashboard/orders/%3Cb%3E", timeout=10).status_code == 400


def test_html_in_stored_text_is_escaped(open_dash):
    seed_order(open_dash, 1003, "needs_review", last_error='<script>alert("x")</script> POS said no')
    with client(open_dash) as http:
        for path in ("/dashboard/review", "/dashboard/orders/1003", "/dashboard/orders"):
            text = http.get(path).text
            assert '<script>alert("x")' not in text and "&lt;script&gt;" in text, path


def test_orders_are_paged_on_the_server_newest_first(open_dash):
    for n in range(25):
        seed_order(open_dash, 2000 + n, "done", source="poll")
    with client(open_dash) as http:
        seen: list[int] = []
        url = "/dashboard/orders?channel=poll"
        pages = 0
        while url:
            text = http.get(url).text
            seen += [int(i) for i in re.findall(r'data-label="order"><a href="/dashboard/orders/(\d+)"', text)]
            older = re.search(r'href="(/dashboard/orders\?[^"]+)" rel="next"', text)
            url = older.group(1).replace("&amp;", "&") if older else None
            pages += 1
        assert pages == 3 and seen == sorted(range(2000, 2025), reverse=True)
        assert "No order matches" in http.get("/dashboard/orders?before=1").text


def test_filters_narrow_the_list(open_dash):
    with client(open_dash) as http:
        def ids(query: str) -> set[int]:
            text = http.get(f"/dashboard/orders?{query}").text
            return {int(i) for i in re.findall(r'data-label="order"><a href="/dashboard/orders/(\d+)"', text)}
        assert ids("state=needs_review") == {1002}
        assert ids("invoice=INV-7") == {1001}
        assert ids("order=1002") == {1002}
        assert ids("buyer=Client") == {1001}
        assert ids("channel=webhook") == {1001, 1002}
        assert ids("from=2000-01-01&to=2999-12-31") == {1001, 1002}
        assert ids("to=2000-01-01") == set()


def test_retry_and_resolve_from_the_dashboard_follow_the_cli_rules(open_dash):
    store = open_dash.runtime.store.sync
    with client(open_dash) as http:
        csrf = csrf_of(http.get("/dashboard/review").text)
        done = http.post("/dashboard/orders/1001/retry", data={"csrf": csrf})
        assert done.status_code == 409 and "is done: a retry would change nothing" in done.text
        assert http.post("/dashboard/orders/424242/retry", data={"csrf": csrf}).status_code == 404
        assert http.post("/dashboard/orders/1002/resolve", data={"csrf": csrf, "note": "  "}).status_code == 400
        resolved = http.post("/dashboard/orders/1002/resolve", data={"csrf": csrf, "note": "voided INV-9 by hand",
                                                                     "from": "review"})
        assert resolved.status_code == 303 and resolved.headers["location"] == "/dashboard/review?msg=resolved"
        assert store.get_order(1002).state == "resolved"
        entry = store.audit_trail(1002)[-1]
        assert (entry.from_state, entry.to_state, entry.reason) == ("needs_review", "resolved", "voided INV-9 by hand")
        assert '"by":"operator at 127.0.0.1"' in entry.details
        again = http.post("/dashboard/orders/1002/resolve", data={"csrf": csrf, "note": "twice"})
        assert again.status_code == 409 and store.get_order(1002).state == "resolved"
        assert http.post("/dashboard/orders/1002/retry", data={"csrf": csrf}).status_code == 409


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(open_dash):
    store = open_dash.runtime.store.sync
    with client(open_dash) as http:
        http.get("/dashboard/review")  # has a session cookie now
        for data in ({}, {"csrf": "forged"}, {"csrf": ""}):
            response = http.post("/dashboard/orders/1002/retry", data=data)
            assert response.status_code == 403 and "security token" in response.text
        oversized = http.post("/dashboard/orders/1002/retry", content=b"csrf=" + b"x" * 20000,
                              headers={"content-type": "application/x-www-form-urlencoded"})
        assert oversized.status_code == 413
    assert store.get_order(1002).state == "needs_review"
    assert httpx.post(open_dash.admin_url + "/dashboard/orders/1002/retry", data={"csrf": "x"},
                      timeout=10).status_code == 403  # no session at all


def test_password_mode_needs_a_login_and_refuses_a_wrong_password(password_dash):
    with client(password_dash) as http:
        for path in PAGES:
            response = http.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/login?next=")
        assert http.post("/dashboard/orders/1002/retry", data={"csrf": "x"}).status_code == 303
        wrong = login(http, password="not the password")
        assert wrong.status_code == 401 and "Wrong password" in wrong.text
        assert http.get("/dashboard/review").status_code == 303
        ok = login(http)
        assert ok.status_code == 303 and ok.headers["location"] == "/dashboard/review"
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/dashboard" in cookie
        assert "secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never come back
        page = http.get("/dashboard/review")
        assert page.status_code == 200 and "Alice" in page.text
        retried = http.post("/dashboard/orders/1002/retry", data={"csrf": csrf_of(page.text)})
        assert retried.status_code == 303
        entry = [a for a in password_dash.runtime.store.sync.audit_trail(1002) if a.to_state == "new"][-1]
        assert entry.reason == "retry from the dashboard by Alice"
        stolen = dict(http.cookies)
        logout = http.post("/dashboard/logout", data={"csrf": csrf_of(http.get("/dashboard/holds").text)})
        assert logout.status_code == 303 and logout.headers["location"] == "/dashboard/login"
    with client(password_dash, cookies=stolen) as replay:
        assert replay.get("/dashboard/review").status_code == 303, "a logged-out session still worked"
    # Who came and went is in the audit trail too, beside what they did (the refusal names no password).
    with sqlite3.connect(password_dash.runtime.settings.store.path) as db:
        trail = db.execute("SELECT action, reason FROM audit WHERE action LIKE 'dashboard%' ORDER BY id").fetchall()
    assert trail == [("dashboard_login_refused", "a wrong password from 127.0.0.1"),
                     ("dashboard_login", "Alice logged in from 127.0.0.1"), ("dashboard_logout", "Alice logged out")]


def test_the_cookie_is_secure_behind_tls_only_when_a_trusted_proxy_says_so(password_dash, tmp_path, pos_db):
    with client(password_dash, headers={"X-Forwarded-Proto": "https"}) as http:  # no trusted_proxies: not believed
        assert "secure" not in login(http).headers["set-cookie"].lower()
    from tests.dashboard.conftest import PASSWORD_HASH

    with dashboard_daemon(tmp_path / "behind", pos_db, server={"trusted_proxies": ["127.0.0.1"]}, auth="password",
                          password_hash=PASSWORD_HASH) as behind:
        with client(behind, headers={"X-Forwarded-Proto": "https"}) as http:
            assert "secure" in login(http).headers["set-cookie"].lower()


def test_logins_are_rate_limited_per_address(password_dash):
    with client(password_dash) as http:
        for _ in range(5):
            assert login(http, password="guess").status_code == 401
        limited = login(http)  # even the right password, until the window passes
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert http.get("/dashboard/review").status_code == 303


def test_login_redirects_only_inside_the_dashboard(password_dash):
    with client(password_dash) as http:
        for target in ("https://evil.example/", "//evil.example/x", "/dashboard/..//evil", "/metrics"):
            form = http.get("/dashboard/login")  # each login starts a new session, with a new token
            response = http.post("/dashboard/login", data={"csrf": csrf_of(form.text), "name": "Bob",
                                                           "password": PASSWORD, "next": target})
            assert response.status_code == 303 and response.headers["location"] == "/dashboard/", target


def test_login_without_the_csrf_token_is_refused(password_dash):
    with client(password_dash) as http:
        http.get("/dashboard/login")
        response = http.post("/dashboard/login", data={"name": "Mallory", "password": PASSWORD})
        assert response.status_code == 403 and "set-cookie" not in response.headers


def test_proxy_mode_takes_the_user_from_the_header(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, server={"trusted_proxies": ["127.0.0.1"]}, auth="proxy") as daemon:
        seed_order(daemon, 1002, "needs_review", last_error="POS: unreachable")
        with client(daemon) as anonymous:
            assert anonymous.get("/dashboard/").status_code == 401
        with client(daemon, headers={"X-Forwarded-User": "carol@example.com"}) as http:
            page = http.get("/dashboard/review")
            assert page.status_code == 200 and "carol@example.com" in page.text
            assert "What to do:</span> Bring the POS" in page.text
            note = {"csrf": csrf_of(page.text), "note": "refunded at TEvo"}
            assert http.post("/dashboard/orders/1002/resolve", data=note).status_code == 303
        assert '"by":"carol@example.com"' in daemon.runtime.store.sync.audit_trail(1002)[-1].details


def test_no_page_shows_a_secret_and_no_page_loads_anything_from_elsewhere(password_dash):
    with client(password_dash) as http:
        login(http)
        seed_order(password_dash, 1001, "done", snapshot=SNAPSHOT)
        for path in (*PAGES, "/dashboard/login", "/dashboard/orders?state=done"):
            text = http.get(path).text
            for secret in SECRETS:
                assert secret not in text, (path, secret)
            assert not re.search(r'(src|href)="(https?:)?//', text), path
        assert "api_token" in http.get("/dashboard/system").text  # the key is listed, its value hidden


def test_static_assets_are_shipped_in_the_package(open_dash):
    with client(open_dash) as http:
        htmx = http.get("/dashboard/static/htmx.min.js")
        assert htmx.status_code == 200 and "htmx" in htmx.text[:200]
        assert http.get("/dashboard/static/dashboard.css").status_code == 200
        assert http.get("/dashboard/static/htmx.LICENSE").status_code == 200
        assert http.get("/dashboard/static/../app.py").status_code == 404


def test_the_overview_refresh_gets_only_the_fragment(open_dash):
    with client(open_dash) as http:
        full = http.get("/dashboard/").text
        fragment = http.get("/dashboard/", headers={"HX-Request": "true"}).text
        assert 'hx-trigger="every 30s"' in full and "<html" in full
        assert "<html" not in fragment and "order needs a person" in fragment
