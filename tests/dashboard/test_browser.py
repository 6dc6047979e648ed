"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against the whole system on loopback.

One story, as a seller lives it: log in (a wrong password first), find the order stuck in
needs_review with its reason, fix the cause, click Retry, watch the order reach done; settle
another by hand with "mark resolved"; a forged POST is refused; no page shows a secret. The run
saves screenshots of the main pages at desktop and phone width under ``tests/.screenshots/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard.conftest import PASSWORD, PASSWORD_HASH, SECRETS, SESSION_SECRET
from tests.e2e.test_exactly_once import send_webhook
from tests.tools import need_tool
from tevo_bridge import health
from tevo_bridge.loopback.stack import API_KEY, Stack, stack, webhook_form
from tevo_bridge.sandbox.orders import ItemRequest, OrderRequest
from tevo_bridge.sandbox.scenarios import Channel, Scenario

SHOTS = Path(__file__).resolve().parent.parent / ".screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for this module's tests. Not for the session: Playwright's sync API keeps an event loop
    running in this thread while it is open, which the asyncio tests after this module could not then start."""
    chromium = need_tool("chromium", "the dashboard's browser tests drive Debian's Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def system(tmp_path: Path) -> Iterator[Stack]:
    dashboard = {"auth": "password", "password_hash": PASSWORD_HASH, "session_secret": SESSION_SECRET,
                 "time_zone": "America/New_York"}
    with stack(tmp_path, server={"admin_port": 0}, dashboard=dashboard) as run:
        yield run


def stuck_order(run: Stack) -> tuple[dict, bytes, str]:
    """An e-ticket order whose ticket PDF is broken: not accepted, waiting in needs_review for the seller."""
    (path,) = run.pos("SELECT eticket_pdf FROM ticket_groups WHERE remote_id = ?", "88702")[0]
    good = Path(path).read_bytes()
    Path(path).write_bytes(b"%PDF-1.4 this is not a pdf")
    group = next(g for g in run.sandbox.driver.planner.inventory if g.remote_id == "88702")
    order = run.sandbox.create_order(OrderRequest(items=[ItemRequest(group, 2, group.wholesale_price,
                                                                     group.seats[:2])]))
    send_webhook(run, webhook_form(order))
    assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
    return order, good, path


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        if label == "phone":  # readable on a phone: nothing wider than the screen but scrolling tables
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow}px wider than a phone"
    page.set_viewport_size(DESKTOP)


def watch_csp(context: Any) -> list[str]:
    """Every Content-Security-Policy violation any page of ``context`` reports (the event, and Chromium's console)."""
    violations: list[str] = []
    context.add_init_script("document.addEventListener('securitypolicyviolation', e => console.error("
                            "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")

    def seen(message: Any) -> None:
        if "Content Security Policy" in message.text or message.text.startswith("CSP violation"):
            violations.append(message.text)

    context.on("console", seen)
    return violations


def test_a_seller_logs_in_fixes_a_stuck_order_retries_it_and_resolves_another(browser, system):
    run = system
    base = run.daemon.admin_url
    made = [run.sandbox.driver.create_sync(scenario, [Channel.ORDER_INTEGRATION] if scenario.uses_order_integration
                                           else [Channel.WEBHOOK])
            for scenario in (Scenario.OFFICE_ETICKET, Scenario.UNDERPRICED, Scenario.OI_INVOICE, Scenario.MULTI_ITEM)]
    settled = run.wait_settled([m.order_id for m in made if m.order_id])
    assert "needs_review" not in settled.values(), settled
    order, good_pdf, pdf_path = stuck_order(run)
    oid = order["id"]
    run.store.ensure_order(990001, "operator")
    run.store.update_order(990001, state="needs_review", reason="test",
                           last_error="TEvo seller_state 'disputed' has no automatic handling")

    # A POS error naming a long path without a break (as a ticket file's does): the health list must wrap it on a
    # phone. (The ledgers are the process's: another test's long path showed here now and then, 21 px too wide.)
    health.POS.failed("pos_ticket_files: TicketFileUnreadable: ticket file /tmp/pytest-of-root/pytest-25/popen-gw0/"
                      "test_the_check_before_acceptin0/tickets/88213.pdf cannot be read")

    context = browser.new_context(viewport=DESKTOP)
    violations = watch_csp(context)
    page = context.new_page()
    page.goto(base + "/dashboard/")
    assert page.url.startswith(base + "/dashboard/login")
    shoot(page, "login")
    page.fill("#name", "Alice")
    page.fill("#password", "not the password")
    page.click("button:has-text('Log in')")
    assert "Wrong password" in page.inner_text("main")
    page.fill("#name", "Alice")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    assert page.url == base + "/dashboard/"
    banner = page.inner_text(".review-banner")
    assert "2 orders need a person" in banner
    assert page.locator("svg.chart rect.bar").count() > 0
    time_title = page.locator("time").first.get_attribute("title")
    assert time_title.endswith("UTC") and ("EST" in page.inner_text("main") or "EDT" in page.inner_text("main"))
    shoot(page, "overview")

    page.click("nav >> text=Needs review")
    card = page.locator(f"#order-{oid}")
    assert "not accepted, it could not be delivered" in card.inner_text()
    shoot(page, "needs-review")

    Path(pdf_path).write_bytes(good_pdf)  # the seller fixes the cause ...
    card.locator("button:has-text('Retry')").click()  # ... and retries
    assert "Queued again" in page.inner_text(".flash")
    assert run.wait_for(lambda: run.state(oid) == "done", timeout=30)
    page.goto(f"{base}/dashboard/orders/{oid}")
    assert page.inner_text("h1 .state") == "done"
    timeline = page.inner_text(".timeline")
    assert "retry from the dashboard by Alice" in timeline and "-> done" in timeline
    assert "delivered (2 pages)" in page.inner_text("section:has(h2:text('Items'))")
    shoot(page, "order-detail")

    page.goto(base + "/dashboard/review")
    other = page.locator("#order-990001")
    other.locator("input[name=note]").fill("Refunded the buyer at TEvo by phone")
    other.locator("button:has-text('Mark resolved')").click()
    assert "Marked resolved" in page.inner_text(".flash")
    entry = run.store.audit_trail(990001)[-1]
    assert (entry.to_state, entry.reason, entry.details) == ("resolved", "Refunded the buyer at TEvo by phone",
                                                             '{"by":"Alice"}')
    assert "Nothing needs review" in page.inner_text("main")

    forged = page.request.post(f"{base}/dashboard/orders/{oid}/retry", form={"from": "review"})
    assert forged.status == 403 and run.state(oid) == "done"

    listing = run.sandbox.driver.planner.inventory[-1]
    held = httpx.post(run.daemon.base_url + "/order-integration/holds", headers={"X-Api-Key": API_KEY}, timeout=10,
                      json={"remote_id": listing.remote_id, "quantity": 1, "global_id": "dashboard-hold-1"})
    assert held.status_code == 200, held.text
    page.goto(base + "/dashboard/holds")
    assert "dashboard-hold-1" in page.inner_text("main") and " min " in page.inner_text(".countdown")
    for path, name in (("/dashboard/orders", "orders"), ("/dashboard/holds", "holds"),
                       ("/dashboard/system", "system")):
        page.goto(base + path)
        shoot(page, name)
    for path in ("/dashboard/", "/dashboard/review", "/dashboard/orders", f"/dashboard/orders/{oid}",
                 "/dashboard/holds", "/dashboard/system"):
        page.goto(base + path)
        html = page.content()
        for secret in SECRETS:
            assert secret not in html, (path, secret)

    page.click("button:has-text('Log out')")
    page.goto(base + "/dashboard/review")
    assert page.url.startswith(base + "/dashboard/login")
    page.goto(base + "/dashboard/no-such-page")  # the error page too
    assert violations == [], violations  # every page (htmx included) runs under the CSP without breaking it
    context.close()


def test_a_csp_violation_is_caught_and_blocked(browser, tmp_path, pos_db):
    """The watcher above sees a violation when there is one, and the policy blocks what it should."""
    from tests.dashboard.conftest import dashboard_daemon

    with dashboard_daemon(tmp_path, pos_db) as daemon:
        context = browser.new_context(viewport=DESKTOP)
        violations = watch_csp(context)
        page = context.new_page()
        page.goto(daemon.admin_url + "/dashboard/")
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p id=\"inline\" style=\"color: red\">x</p>')")
        page.evaluate("const s = document.createElement('script'); s.textContent = 'window.ran = 1'; "
                      "document.body.appendChild(s)")
        deadline = time.monotonic() + 10
        while len(violations) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert page.evaluate("window.ran") is None, "an inline script ran"
        assert page.evaluate("getComputedStyle(document.getElementById('inline')).color") != "rgb(255, 0, 0)"
        assert len(violations) >= 2, violations
        context.close()


def test_reading_works_without_javascript_and_by_keyboard(browser, tmp_path, pos_db):
    from tests.dashboard.conftest import dashboard_daemon, seed_order

    with dashboard_daemon(tmp_path, pos_db) as daemon:
        seed_order(daemon, 1002, "needs_review", last_error="POS: unreachable. Fix: start the POS service")
        context = browser.new_context(java_script_enabled=False, viewport=PHONE)
        page = context.new_page()
        page.goto(daemon.admin_url + "/dashboard/review")
        assert "POS: unreachable. Fix: start the POS service" in page.inner_text("main")
        context.close()

        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.goto(daemon.admin_url + "/dashboard/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")  # the brand, Overview, Needs review
        assert page.evaluate("document.activeElement.textContent") == "Needs review"
        page.keyboard.press("Enter")
        page.wait_for_url("**/dashboard/review")
        page.locator("button:has-text('Retry')").focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/dashboard/review?msg=retried")
        deadline = time.monotonic() + 10
        while daemon.runtime.store.sync.get_order(1002).state == "needs_review" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon.runtime.store.sync.get_order(1002).state != "needs_review"
        context.close()
