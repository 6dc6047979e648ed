"""The broker's pages through the daemon's real admin listener: search, Retry all, to ship / to hand over, CSV;
the pages that query the store run on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.dashboard.conftest import (
    PASSWORD_HASH,
    SESSION_SECRET,
    client,
    csrf_of,
    dashboard_daemon,
    make_settings,
    seed_order,
)
from tests.dashboard.test_routes import login
from tevo_bridge.dashboard.export import HEADER
from tevo_bridge.serve import RunningDaemon, running_daemon


def snapshot(name: str, email: str, event: str = "Celtics at Knicks", **extra: object) -> dict:
    item = {"quantity": 2, "price": "120.00", "seats": [5, 6],
            "ticket_group": {"remote_id": "88702", "section": "112", "row": "8",
                             "event": {"name": event, "occurs_at": "2026-12-20T19:30:00Z",
                                       "venue": {"name": "Madison Square Garden"}}}}
    return {"buyer": {"type": "Client", "id": 77, "name": name, "email_addresses": [{"address": email}]},
            "items": [item], "total": "240.00", "created_at": "2026-12-01T10:00:00Z", **extra}


PDF_STUCK = "not accepted, it could not be delivered: item 91: file 1 (88702.pdf) is not a readable PDF"


@contextmanager
def daemon_on(backend, tmp_path: Path, pos_db: Path) -> Iterator[RunningDaemon]:
    """The dashboard's daemon (as ``dashboard_daemon``) on either store backend: the queries run on both."""
    store = {"url": backend.location} if backend.name == "postgresql" else {}
    settings = make_settings(tmp_path, pos_db, server={"admin_port": 0}, store=store,
                             dashboard={"session_secret": SESSION_SECRET, "page_size": 10})
    with running_daemon(settings) as daemon:
        yield daemon


@pytest.fixture
def dash(store_backend, tmp_path, pos_db):
    with daemon_on(store_backend, tmp_path, pos_db) as daemon:
        seed_order(daemon, 1001, "done", invoice_id="INV-7", snapshot=snapshot("Megan Alvarez", "megan@example.com"))
        seed_order(daemon, 1002, "done", invoice_id="INV-8",
                   snapshot=snapshot("=HYPERLINK(\"http://evil\")", "x@example.com", event='Bulls, "live"'))
        seed_order(daemon, 1003, "needs_review", last_error=PDF_STUCK, snapshot=snapshot("Ann", "ann@example.com"))
        seed_order(daemon, 1004, "needs_review", last_error=PDF_STUCK.replace("91", "92"))
        seed_order(daemon, 1005, "needs_review", last_error="POS: unreachable (connection refused)")
        seed_order(daemon, 1006, "canceled", invoice_id="INV-9", snapshot=snapshot("Megan Alvarez", "m2@example.com"))
        yield daemon


def test_search_box_is_on_every_page_and_an_exact_tevo_id_opens_the_order(dash):
    with client(dash) as http:
        for path in ("/dashboard/", "/dashboard/review", "/dashboard/orders", "/dashboard/holds",
                     "/dashboard/handover", "/dashboard/orders/1001"):
            assert 'action="/dashboard/search"' in http.get(path).text, path
        answer = http.get("/dashboard/search", params={"q": " 1003 "})
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/orders/1003"


def test_search_finds_by_invoice_name_and_email_and_escapes_what_it_shows(dash):
    with client(dash) as http:
        page = http.get("/dashboard/search", params={"q": "inv-8"}).text
        assert "No order matches" in page  # invoice ids as the POS wrote them
        page = http.get("/dashboard/search", params={"q": "INV-8"}).text
        assert 'href="/dashboard/orders/1002"' in page and "=HYPERLINK(&#34;http://evil&#34;)" in page
        page = http.get("/dashboard/search", params={"q": "ALVAREZ"}).text
        assert page.index("/dashboard/orders/1006") < page.index("/dashboard/orders/1001")  # newest first
        assert "Celtics at Knicks" in page and "/dashboard/orders/1003" not in page
        assert "/dashboard/orders/1003" in http.get("/dashboard/search", params={"q": "ann@EXAMPLE"}).text
        assert "No order matches" in http.get("/dashboard/search", params={"q": "%"}).text
        assert "No order matches" in http.get("/dashboard/search", params={"q": "99999"}).text
        assert http.get("/dashboard/search", params={"q": "x" * 101}).status_code == 400
        assert http.get("/dashboard/search", params={"q": "a\x00b"}).status_code == 400


def test_retry_all_confirms_the_list_then_retries_each_with_who_did_it(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as daemon:
        seed_order(daemon, 1003, "needs_review", last_error=PDF_STUCK)
        seed_order(daemon, 1004, "needs_review", last_error=PDF_STUCK.replace("91", "92"))
        seed_order(daemon, 1005, "needs_review", last_error="POS: unreachable (connection refused)")
        store = daemon.runtime.store.sync
        with client(daemon) as http:
            assert login(http).status_code == 303
            review = http.get("/dashboard/review").text
            assert "A ticket PDF was missing or unreadable: <b>2</b> orders" in review
            assert "retry-all?cause=pos_unreachable" not in review  # one order alone: its own Retry is enough
            confirm = http.get("/dashboard/review/retry-all", params={"cause": "ticket_files"})
            assert confirm.status_code == 200
            assert "Order 1003" in confirm.text and "Order 1004" in confirm.text and "Order 1005" not in confirm.text
            assert store.get_order(1003).state == "needs_review"  # looking changes nothing
            form = {"csrf": csrf_of(confirm.text), "cause": "ticket_files", "orders": "1003,1004,1005"}
            assert http.post("/dashboard/review/retry-all", data=dict(form, csrf="forged")).status_code == 403
            assert store.get_order(1003).state == "needs_review"
            done = http.post("/dashboard/review/retry-all", data=form)
            assert done.status_code == 303 and done.headers["location"] == "/dashboard/review?msg=retried_all"
            assert http.get("/dashboard/review/retry-all", params={"cause": "nonsense"}).status_code == 400
        for oid in (1003, 1004):
            moves = [a for a in store.audit_trail(oid) if a.from_state == "needs_review" and a.to_state == "new"]
            assert [m.reason for m in moves] == ["retry all (ticket_files) from the dashboard by Alice"]
        assert store.get_order(1005).state == "needs_review"  # confirmed, but stuck for another cause: left alone
        (summary,) = [json.loads(details) for (details,) in sqlite3.connect(daemon.runtime.settings.store.path)
                      .execute("SELECT details FROM audit WHERE action = 'dashboard_retry_all'")]
        assert summary == {"by": "Alice", "cause": "ticket_files", "retried": [1003, 1004], "skipped": [1005]}


def test_handover_lists_airbills_and_pickups_and_serves_only_saved_airbills(dash, tmp_path):
    store = dash.runtime.store.sync
    folder = Path(dash.runtime.settings.fulfillment.airbill_dir)
    folder.mkdir(exist_ok=True)
    (folder / "1001.pdf").write_bytes(b"%PDF-1.4 airbill of 1001")
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"%PDF-1.4 not an airbill")
    store.audit("airbill.saved", order_id=1001, details={"shipment_id": 9, "path": str(folder / "1001.pdf"),
                                                         "tracking_number": "7712 3456"})
    store.audit("airbill.saved", order_id=1002, details={"shipment_id": 10, "path": str(outside)})
    store.audit("pickup.update", order_id=1006, details={"old_shipment_id": 11, "shipment_id": 12})
    seed_order(dash, 1007, "done", snapshot=snapshot("Pat", "pat@example.com", event="Hamilton",
                                                     shipments=[{"id": 14, "type": "LocalPickup", "state": "pending",
                                                                 "pickup_time_range": "6-7 PM",
                                                                 "ship_from_name": "Window 3"}]))
    store.audit("pickup.update", order_id=1007, details={"old_shipment_id": 13, "shipment_id": 14})
    with client(dash) as http:
        page = http.get("/dashboard/handover").text
        assert "/dashboard/handover/1001/airbill/9.pdf" in page and "tracking 7712 3456" in page
        assert "Order 1006" not in page  # canceled
        assert "Order 1007" in page and "6-7 PM" in page and "Window 3" in page and "Hamilton" in page
        pdf = http.get("/dashboard/handover/1001/airbill/9.pdf")
        assert pdf.status_code == 200 and pdf.content == b"%PDF-1.4 airbill of 1001"
        assert pdf.headers["content-type"] == "application/pdf"
        assert http.get("/dashboard/handover/1002/airbill/10.pdf").status_code == 404  # outside airbill_dir
        assert http.get("/dashboard/handover/1001/airbill/10.pdf").status_code == 404
        store.update_order(1001, seller_state="completed")  # TEvo says it is done
        store.update_order(1007, snapshot=json.dumps(snapshot("Pat", "pat@example.com", shipments=[
            {"id": 14, "type": "LocalPickup", "state": "delivered"}])))
        page = http.get("/dashboard/handover").text
        assert "Order 1001" not in page and "Order 1007" not in page and "Order 1002" in page


def test_csv_is_the_filtered_list_one_line_per_item_and_formula_safe(dash):
    with client(dash) as http:
        answer = http.get("/dashboard/orders.csv", params={"state": "done"})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in answer.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert rows[0] == list(HEADER)
        assert [r[0] for r in rows[1:]] == ["1002", "1001"]
        line = dict(zip(HEADER, rows[2], strict=True))
        assert line == {"TEvo order id": "1001", "date": "2026-12-01T10:00:00Z", "event": "Celtics at Knicks",
                        "event date": "2026-12-20T19:30:00Z", "venue": "Madison Square Garden", "quantity": "2",
                        "section": "112", "row": "8", "seats": "5, 6", "price": "120.00", "total": "240.00",
                        "buyer": "Megan Alvarez", "buyer email": "megan@example.com", "POS invoice id": "INV-7",
                        "state": "done"}
        evil = dict(zip(HEADER, rows[1], strict=True))
        assert evil["buyer"] == "'=HYPERLINK(\"http://evil\")" and evil["event"] == 'Bulls, "live"'
        assert http.get("/dashboard/orders.csv", params={"state": "bogus"}).status_code == 400
        everything = http.get("/dashboard/orders.csv").content.decode("utf-8-sig")
        assert len(list(csv.reader(io.StringIO(everything)))) == 1 + 6
        assert 'href="/dashboard/orders.csv?state=done"' in http.get("/dashboard/orders",
                                                                      params={"state": "done"}).text


def test_csv_pages_through_more_orders_than_one_store_call_reads(dash, monkeypatch):
    from tevo_bridge.dashboard import broker

    monkeypatch.setattr(broker, "EXPORT_CHUNK", 2)
    with client(dash) as http:
        rows = list(csv.reader(io.StringIO(http.get("/dashboard/orders.csv").content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["1006", "1005", "1004", "1003", "1002", "1001"]


def test_the_new_pages_need_a_login(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db, auth="password", password_hash=PASSWORD_HASH) as daemon, \
            client(daemon) as http:
        for path in ("/dashboard/search?q=1", "/dashboard/orders.csv", "/dashboard/handover",
                     "/dashboard/handover/1/airbill/1.pdf", "/dashboard/review/retry-all?cause=fraud"):
            answer = http.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/dashboard/login"), path
        assert http.post("/dashboard/review/retry-all", data={"cause": "fraud"}).status_code == 303
