"""The broker's pages in a real browser (Debian's Chromium through Playwright): search from the header, Retry all
with its confirmation, the to ship / to hand over page and its airbill, the CSV download, and the order list on a
phone (event and date on each card, the filters folded). Every page under the dashboard's CSP."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import PASSWORD, PASSWORD_HASH, dashboard_daemon, seed_order
from tests.dashboard.test_broker_routes import PDF_STUCK, snapshot
from tests.dashboard.test_browser import DESKTOP, PHONE, browser, shoot, watch_csp  # noqa: F401
from tevo_bridge.serve import RunningDaemon


@pytest.fixture
def daemon(tmp_path: Path, pos_db: Path) -> Iterator[RunningDaemon]:  # noqa: F811
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH,
                          time_zone="America/New_York") as running:
        seed_order(running, 1001, "done", invoice_id="INV-7", snapshot=snapshot("Megan Alvarez", "megan@example.com"))
        seed_order(running, 1002, "done", invoice_id="INV-8",
                   snapshot=snapshot("Pat Lee", "pat@example.com", event="Hamilton"))
        seed_order(running, 1003, "needs_review", last_error=PDF_STUCK, snapshot=snapshot("Ann", "ann@example.com"))
        seed_order(running, 1004, "needs_review", last_error=PDF_STUCK.replace("91", "92"))
        yield running


def logged_in(browser: Any, daemon: RunningDaemon, viewport: dict[str, int] = DESKTOP) -> tuple[Any, Any, list[str]]:  # noqa: F811
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    violations = watch_csp(context)
    page = context.new_page()
    page.goto(daemon.admin_url + "/dashboard/login")
    page.fill("#name", "Alice")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    assert page.url == daemon.admin_url + "/dashboard/"
    return context, page, violations


def test_search_from_the_header_finds_by_name_and_an_exact_id_opens_the_order(browser, daemon):  # noqa: F811
    context, page, violations = logged_in(browser, daemon)
    page.goto(daemon.admin_url + "/dashboard/holds")
    page.fill("#site-search", "MEGAN@example")
    page.press("#site-search", "Enter")
    page.wait_for_url("**/dashboard/search?q=*")
    results = page.inner_text("main")
    assert "1001" in results and "Celtics at Knicks" in results and "1002" not in results
    shoot(page, "search")
    page.fill("#site-search", "1002")
    page.press("#site-search", "Enter")
    page.wait_for_url("**/dashboard/orders/1002")
    assert "Order 1002" in page.inner_text("h1")
    assert violations == [], violations
    context.close()


def test_retry_all_lists_the_orders_then_retries_them_as_alice(browser, daemon):  # noqa: F811
    context, page, violations = logged_in(browser, daemon)
    page.goto(daemon.admin_url + "/dashboard/review")
    assert "A ticket PDF was missing or unreadable: 2 orders" in page.inner_text(".groups")
    shoot(page, "review-groups")
    page.click("a:has-text('Retry all 2')")
    page.wait_for_url("**/dashboard/review/retry-all?cause=ticket_files")
    listed = page.inner_text(".confirm-list")
    assert "Order 1003" in listed and "Order 1004" in listed
    shoot(page, "retry-all")
    assert daemon.runtime.store.sync.get_order(1003).state == "needs_review"  # nothing happens before the click
    page.click("button:has-text('Retry these 2 orders')")
    page.wait_for_url("**/dashboard/review?msg=retried_all")
    assert "Queued again" in page.inner_text(".flash")
    for oid in (1003, 1004):
        trail = daemon.runtime.store.sync.audit_trail(oid)
        assert "retry all (ticket_files) from the dashboard by Alice" in [a.reason for a in trail]
    assert violations == [], violations
    context.close()


def test_to_ship_prints_the_saved_airbill_and_shows_the_pickup(browser, daemon):  # noqa: F811
    store = daemon.runtime.store.sync
    folder = Path(daemon.runtime.settings.fulfillment.airbill_dir)
    folder.mkdir(exist_ok=True)
    (folder / "1001.pdf").write_bytes(b"%PDF-1.4 the airbill")
    store.audit("airbill.saved", order_id=1001, details={"shipment_id": 9, "path": str(folder / "1001.pdf"),
                                                         "tracking_number": "7712 3456"})
    store.update_order(1002, snapshot=json.dumps(snapshot("Pat Lee", "pat@example.com", event="Hamilton", shipments=[
        {"id": 14, "type": "LocalPickup", "state": "pending", "pickup_time_range": "Doors 6-7 PM",
         "ship_from_name": "Box Office Window 3", "ship_from_address": {"street_address": "1 Main St"}}])))
    store.audit("pickup.update", order_id=1002, details={"old_shipment_id": 13, "shipment_id": 14})
    context, page, violations = logged_in(browser, daemon)
    page.click("nav >> text=To ship")
    ship = page.inner_text("section:has(h2:text('To ship'))")
    assert "Order 1001" in ship and "Celtics at Knicks" in ship and "tracking 7712 3456" in ship
    hand = page.inner_text("section:has(h2:text('To hand over'))")
    assert "Order 1002" in hand and "Doors 6-7 PM" in hand and "Box Office Window 3, 1 Main St" in hand
    shoot(page, "handover")
    with context.expect_page() as opened:
        page.click("a:has-text('Print airbill')")
    pdf = opened.value
    answer = pdf.request.get(pdf.url)
    assert answer.status == 200 and answer.body() == b"%PDF-1.4 the airbill"
    assert answer.headers["content-type"] == "application/pdf"
    store.update_order(1001, seller_state="completed")
    page.reload()
    assert "Order 1001" not in page.inner_text("main")  # TEvo said it is done
    assert violations == [], violations
    context.close()


def test_the_csv_download_is_the_list_as_filtered(browser, daemon):  # noqa: F811
    context, page, violations = logged_in(browser, daemon)
    page.goto(daemon.admin_url + "/dashboard/orders?state=done")
    with page.expect_download() as download:
        page.click("a:has-text('Download CSV')")
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["TEvo order id"], r["event"], r["buyer"]) for r in rows] == [
        ("1002", "Hamilton", "Pat Lee"), ("1001", "Celtics at Knicks", "Megan Alvarez")]
    assert download.value.suggested_filename.startswith("tevo-orders-")
    assert violations == [], violations
    context.close()


def test_on_a_phone_a_card_shows_its_event_and_date_and_the_filters_fold_away(browser, daemon):  # noqa: F811
    context, page, violations = logged_in(browser, daemon, PHONE)
    page.goto(daemon.admin_url + "/dashboard/orders")
    card = page.locator("table.orders tbody tr", has_text="1001")
    assert card.locator("td.event-cell").is_visible()
    text = card.inner_text()
    assert "Celtics at Knicks" in text and "2026-12-20 14:30 EST" in text  # the event's date, in the seller's zone
    assert not page.locator("#filters").is_visible()
    page.click("label:has-text('Filters')")
    assert page.locator("#filters").is_visible()
    page.select_option("#filters select[name=state]", "needs_review")
    page.click("#filters button:has-text('Search')")
    page.wait_for_url("**/dashboard/orders?*state=needs_review*")
    assert "Filters (1 in use)" in page.inner_text(".list-tools")
    assert not page.locator("#filters").is_visible()  # folded again, saying how many are in use
    shoot(page, "orders-filtered")  # no wider than a phone (shoot checks)
    page.set_viewport_size(DESKTOP)
    assert page.locator("#filters").is_visible() and not page.locator("label:has-text('Filters')").is_visible()
    assert violations == [], violations
    context.close()
