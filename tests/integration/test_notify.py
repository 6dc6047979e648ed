"""Notifications ([notify]): each event told once to every destination, on a real SMTP server and a real webhook
receiver on loopback, over both store backends; retried, batched, masked; ``notify test``.

The notifier is driven tick by tick (``Notifier.tick``) over a real store, as the daemon's task runs it; the
end-to-end test through the daemon is tests/e2e/test_notify_daemon.py.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.notify_receivers import SmtpServer, WebhookReceiver
from tevo_bridge import health
from tevo_bridge.cli import app
from tevo_bridge.config import Settings
from tevo_bridge.notify import notifier as notifier_module
from tevo_bridge.notify.notifier import Notifier
from tevo_bridge.store import AsyncStore, Event
from tevo_bridge.validation import validate

DASHBOARD = "https://admin.tickets.example.com/dashboard"


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


def settings_for(*urls: str, **notify: object) -> Settings:
    return Settings(notify={"urls": list(urls), "dashboard_url": DASHBOARD, **notify})


def to_review(store, order_id: int, reason: str = "the ticket file for item 7 is unreadable") -> None:
    store.record_event(Event("webhook", "order_created", f"k{order_id}", "{}", order_id=order_id))
    store.update_order(order_id, state="needs_review", reason=reason)


def tick(notifier: Notifier) -> None:
    asyncio.run(notifier.tick())


def started(settings: Settings, store) -> Notifier:
    """A notifier over ``store`` that has ticked once (the first tick sets where it reads the audit trail from)."""
    notifier = Notifier(settings, AsyncStore(store))
    tick(notifier)
    return notifier


def test_an_order_entering_review_is_one_email_and_one_webhook_saying_why_and_where(store_backend, smtp, hook):
    store = store_backend.open()
    try:
        notifier = started(settings_for(smtp.url, hook.url()), store)
        to_review(store, 501)
        tick(notifier)
        tick(notifier)
        assert len(smtp.messages) == 1 and len(hook.posts) == 1
        assert smtp.messages[0]["Subject"] == "tevo-bridge: order 501: needs review"
        for text in (smtp.bodies()[0], hook.posts[0]["message"]):
            assert "Order 501 needs a person" in text
            assert "the ticket file for item 7 is unreadable" in text
            assert "tevo-bridge orders retry 501" in text
            assert f"{DASHBOARD}/orders/501" in text
        (row,) = store.list_notifications()
        assert row.state == "sent" and row.key.startswith("needs_review:501:")
    finally:
        store.close()


def test_a_restart_does_not_send_again(store_backend, smtp, hook):
    settings = settings_for(smtp.url, hook.url())
    store = store_backend.open()
    notifier = started(settings, store)
    to_review(store, 502)
    tick(notifier)
    store.close()
    reopened = store_backend.open()
    try:
        again = Notifier(settings, AsyncStore(reopened))
        tick(again)
        tick(again)
        assert len(smtp.messages) == 1 and len(hook.posts) == 1
    finally:
        reopened.close()


def test_two_replicas_tell_each_event_once(pg_url, smtp, hook):
    from tevo_bridge.store.postgres import PostgresStore

    settings = settings_for(smtp.url, hook.url())
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        first, second = started(settings, a), Notifier(settings, AsyncStore(b))
        for order_id in range(600, 610):
            to_review(a if order_id % 2 else b, order_id)

        async def both() -> None:
            for _ in range(3):
                await asyncio.gather(first.tick(), second.tick())

        asyncio.run(both())
        orders = [n for post in hook.posts for n in range(600, 610) if f"Order {n} needs a person" in post["message"]]
        assert sorted(orders) == list(range(600, 610))  # each once, whichever replica sent it
        mailed = [n for body in smtp.bodies() for n in range(600, 610) if f"Order {n} needs a person" in body]
        assert sorted(mailed) == list(range(600, 610))
    finally:
        a.close()
        b.close()


def test_a_failing_destination_is_retried_later_while_the_others_get_it_once(store_backend, smtp, hook, monkeypatch):
    monkeypatch.setattr(notifier_module, "backoff", lambda attempts: 0.0)  # due again at once (the test's clock)
    store = store_backend.open()
    try:
        notifier = started(settings_for(smtp.url, hook.url()), store)
        hook.fail_next = 2
        to_review(store, 503)
        tick(notifier)  # the claim sent to both: email took it, the webhook answered 500 (Apprise retries none)
        (row,) = store.list_notifications()
        assert row.state == "pending" and row.attempts == 1 and "json://127.0.0.1" in (row.last_error or "")
        assert "500" in (row.last_error or ""), row.last_error  # Apprise's reason, this destination's alone
        assert len(smtp.messages) == 1 and hook.posts == []
        tick(notifier)  # 500 again: still pending, the email not sent twice
        tick(notifier)
        assert len(hook.posts) == 1 and len(smtp.messages) == 1
        (row,) = store.list_notifications()
        assert row.state == "sent" and row.attempts == 3
    finally:
        store.close()


def test_a_destination_that_hangs_does_not_hold_the_others(store_backend, smtp, hook):
    store = store_backend.open()
    try:
        notifier = started(settings_for(smtp.url, hook.url(), timeout=1.0), store)
        hook.hang = True
        to_review(store, 504)
        begun = time.monotonic()
        tick(notifier)
        assert time.monotonic() - begun < 20  # liveness: the hung send was given up, not waited for
        assert len(smtp.messages) == 1
        (row,) = store.list_notifications()
        assert row.state == "pending" and "no answer within 1 s" in (row.last_error or "")
    finally:
        store.close()


def test_events_arriving_together_are_one_message_of_at_most_batch_size(store_backend, smtp, hook):
    store = store_backend.open()
    try:
        notifier = started(settings_for(smtp.url, hook.url(), batch_size=3), store)
        for order_id in range(700, 705):
            to_review(store, order_id)
        tick(notifier)
        assert len(hook.posts) == 2 and len(smtp.messages) == 2  # 3 + 2
        assert hook.posts[0]["title"] == "tevo-bridge: 3 events (3 × order needs review)"
        assert all(f"Order {n} needs a person" in hook.posts[0]["message"] for n in (700, 701, 702))
        assert all(f"Order {n} needs a person" in hook.posts[1]["message"] for n in (703, 704))
    finally:
        store.close()


def test_an_invoiced_order_canceled_at_tevo_is_told_and_an_uninvoiced_one_is_not(store_backend, hook):
    store = store_backend.open()
    try:
        notifier = started(settings_for(hook.url()), store)
        for order_id in (801, 802):
            store.record_event(Event("webhook", "order_created", f"k{order_id}", "{}", order_id=order_id))
        store.update_order(801, invoice_id="INV-77")
        store.update_order(801, state="canceled", reason="TEvo canceled the order after it was invoiced: void it "
                                                          "by hand")
        store.update_order(802, state="canceled", reason="TEvo canceled the order")
        tick(notifier)
        (post,) = hook.posts
        assert post["title"] == "tevo-bridge: order 801: canceled after it was invoiced"
        assert "invoice INV-77" in post["message"] and "void it by hand" in post["message"]
        assert "802" not in post["message"]
    finally:
        store.close()


def test_an_outage_past_unhealthy_after_is_told_once_and_its_end_too(store_backend, hook, monkeypatch):
    monkeypatch.setattr(health, "TEVO", health.Ledger())
    store = store_backend.open()
    try:
        notifier = started(settings_for(hook.url(), unhealthy_after=300), store)
        now = time.time()
        health.TEVO.ok()
        health.TEVO.last_ok = now - 1000
        health.TEVO._errors.append(health.Failure(now - 400, "orders: could not connect (ConnectError)"))
        asyncio.run(notifier.watch_health(now - 200))  # failing 200 s: not yet
        asyncio.run(notifier.watch_health(now))  # one error, then quiet for 400 s: a stray error, not an outage
        asyncio.run(notifier.send_due())
        assert hook.posts == []
        health.TEVO._errors.append(health.Failure(now - 100, "orders: could not connect (ConnectError)"))
        asyncio.run(notifier.watch_health(now))  # still failing, 400 s since the first error
        asyncio.run(notifier.watch_health(now + 60))
        asyncio.run(notifier.send_due())
        (post,) = hook.posts
        assert post["title"] == "tevo-bridge: TEvo trouble"
        assert "could not connect (ConnectError)" in post["message"] and "check --online" in post["message"]
        asyncio.run(notifier.watch_health(now + 1000))  # quiet, but nothing has worked: not over
        asyncio.run(notifier.send_due())
        assert len(hook.posts) == 1
        health.TEVO.ok()
        asyncio.run(notifier.watch_health(time.time() + 1))
        asyncio.run(notifier.send_due())
        assert hook.posts[-1]["title"] == "tevo-bridge: TEvo recovered" and len(hook.posts) == 2
    finally:
        store.close()


def test_the_daily_summary_is_sent_once_a_day_at_its_time(store_backend, hook):
    store = store_backend.open()
    try:
        settings = settings_for(hook.url())
        settings.dashboard.time_zone = "America/New_York"
        notifier = started(settings, store)
        to_review(store, 901)
        tick(notifier)
        hook.posts.clear()
        settings.notify.daily_summary_at = "08:00"  # from here on: the ticks above ran at today's real time
        asyncio.run(notifier.daily_summary(datetime(2026, 12, 4, 12, 59, tzinfo=UTC)))  # 07:59 in New York
        assert store.list_notifications(10)[0].kind != "daily_summary"
        for replica in (notifier, Notifier(settings, AsyncStore(store))):  # a second process: the same day's key
            asyncio.run(replica.daily_summary(datetime(2026, 12, 4, 13, 1, tzinfo=UTC)))
        asyncio.run(notifier.send_due())
        (post,) = hook.posts
        assert post["title"] == "tevo-bridge: daily summary"
        assert "Summary for 2026-12-04" in post["message"] and "needs_review: 1" in post["message"]
    finally:
        store.close()


def test_secrets_in_urls_are_masked_in_errors_and_the_store(store_backend, hook, monkeypatch):
    monkeypatch.setattr(notifier_module, "backoff", lambda attempts: 0.0)
    store = store_backend.open()
    try:
        url = hook.url(user="bridge:S3cretHookPassw0rd")
        notifier = started(settings_for(url), store)
        hook.fail_next = 1
        to_review(store, 505)
        tick(notifier)
        (row,) = store.list_notifications()
        assert row.last_error and "S3cretHookPassw0rd" not in row.last_error and "****" in row.last_error
        assert "S3cretHookPassw0rd" in settings_for(url).secrets()  # so the log redactor masks it too
    finally:
        store.close()


def test_check_refuses_a_url_apprise_cannot_use_naming_the_index_and_masking_it():
    settings = settings_for("json://127.0.0.1:9/ok", "tgram://not-a-bot-token-S3cretValue")
    errors = [p.message for p in validate(settings) if p.severity == "error" and "[notify]" in p.message]
    (message,) = errors
    assert "[notify] urls[1] (tgram://****)" in message and "S3cretValue" not in message


def test_urls_can_come_from_the_environment_as_a_json_list(tmp_path: Path, monkeypatch, hook):
    from tevo_bridge.config import load_settings

    monkeypatch.setenv("TEVO_BRIDGE_NOTIFY__URLS", f'["{hook.url()}"]')
    settings = load_settings(None)
    assert [u.get_secret_value() for u in settings.notify.urls] == [hook.url()]


def test_notify_test_says_per_destination_whether_it_worked(tmp_path: Path, smtp, hook):
    dead = "json://bridge:DeadS3cret@127.0.0.1:9/nobody"
    config = tmp_path / "config.toml"
    config.write_text(f'[notify]\nurls = ["{smtp.url}", "{hook.url()}", "{dead}"]\n')
    result = CliRunner().invoke(app, ["notify", "test", "--config", str(config)])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(("ok", "FAILED"))]
    assert lines[0].startswith("ok      urls[0] mailto://127.0.0.1:")
    assert lines[1].startswith("ok      urls[1] json://127.0.0.1:")
    assert lines[2].startswith("FAILED  urls[2] json://bridge:****@127.0.0.1:9/nobody")
    assert "DeadS3cret" not in result.output
    assert len(smtp.messages) == 1 and hook.posts[0]["title"] == "tevo-bridge: test message"


def test_notify_test_without_urls_says_how_to_set_them(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("")
    result = CliRunner().invoke(app, ["notify", "test", "--config", str(config)])
    assert result.exit_code == 2 and "[notify] urls is empty" in result.output


def test_notifications_sent_longer_ago_than_retention_are_pruned_and_never_told_again(store_backend, hook):
    store = store_backend.open()
    try:
        settings = settings_for(hook.url())
        settings.store.retention_days = 30
        notifier = started(settings, store)
        to_review(store, 506)
        tick(notifier)
        (row,) = store.list_notifications()
        asyncio.run(notifier.prune(time.monotonic()))
        assert store.list_notifications() == [row]  # sent just now: kept
        with store._tx() as conn:  # 40 days on: the notification and the transition it told of are old
            conn.execute("UPDATE notifications SET updated_at = ?", ("2026-01-01T00:00:00.000Z",))
            conn.execute("UPDATE audit SET at = ?", ("2026-01-01T00:00:00.000Z",))
        asyncio.run(notifier.prune(time.monotonic() + 3601))
        assert store.list_notifications() == []
        tick(notifier)
        assert store.list_notifications() == [] and len(hook.posts) == 1  # its transition is behind the cursor
    finally:
        store.close()


def test_messages_link_the_admin_listeners_dashboard_when_no_dashboard_url_is_set():
    from tevo_bridge.notify.notifier import dashboard_link

    assert dashboard_link(Settings(server={"admin_port": 9180})) == "http://127.0.0.1:9180/dashboard"
    assert dashboard_link(Settings(server={"admin_port": 9180, "admin_host": "::1"})) == "http://[::1]:9180/dashboard"
    assert dashboard_link(Settings(server={"admin_port": 9180, "admin_host": "0.0.0.0"})) == ""
    assert dashboard_link(Settings(server={"admin_port": 9180}, notify={"dashboard_url": DASHBOARD + "/"})) == DASHBOARD
    assert dashboard_link(Settings()) == ""


def test_check_warns_when_messages_could_not_link_orders():
    warnings = [p.message for p in validate(Settings(notify={"urls": ["json://127.0.0.1:9/x"]}))
                if p.severity == "warning" and "[notify]" in p.message]
    assert warnings and "dashboard_url is not set" in warnings[0]
    linked = Settings(notify={"urls": ["json://127.0.0.1:9/x"], "dashboard_url": DASHBOARD})
    assert not [p for p in validate(linked) if "[notify]" in p.message]


def test_the_dashboards_config_view_hides_the_urls():
    from tevo_bridge.dashboard.figures import masked_config

    sections = dict(masked_config(settings_for("json://bridge:S3cretHookPassw0rd@127.0.0.1:9/x")))
    assert dict(sections["notify"])["urls"] == "json://bridge:****@127.0.0.1:9/x"  # where, not the password
    assert "S3cretHookPassw0rd" not in repr(sections)


def test_a_transition_committed_after_the_cursor_passed_its_time_is_still_told(store_backend, hook):
    """On PostgreSQL a transaction may stamp its audit row, then commit after a later one was read: the notifier
    reads again from its cursor less a grace period, so such a row is found, and its unique key keeps it once."""
    store = store_backend.open()
    try:
        notifier = started(settings_for(hook.url()), store)
        to_review(store, 507)
        tick(notifier)  # the cursor is now past everything so far
        store.record_event(Event("webhook", "order_created", "k508", "{}", order_id=508))
        late = datetime.fromtimestamp(time.time() - 120, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with store._tx() as conn:  # stamped two minutes ago, committed only now
            conn.execute("UPDATE orders SET state = 'needs_review' WHERE id = 508")
            conn.execute("INSERT INTO audit (order_id, at, action, from_state, to_state, reason) "
                         "VALUES (508, ?, 'transition', 'checking', 'needs_review', 'late commit')", (late,))
        tick(notifier)
        tick(notifier)
        told = [n for post in hook.posts for n in (507, 508) if f"Order {n} needs a person" in post["message"]]
        assert told == [507, 508]
    finally:
        store.close()


def test_notify_list_shows_what_was_told(tmp_path: Path, hook):
    from tevo_bridge.store import SqliteStore

    store = SqliteStore(tmp_path / "state.sqlite3")
    try:
        notifier = started(settings_for(hook.url()), store)
        to_review(store, 509)
        tick(notifier)
    finally:
        store.close()
    config = tmp_path / "config.toml"
    config.write_text('[store]\npath = "state.sqlite3"\n')
    result = CliRunner().invoke(app, ["notify", "list", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "sent     tries 1  needs_review:509:" in result.output


def test_check_names_the_variable_and_index_of_a_bad_url_from_the_environment(tmp_path: Path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setenv("TEVO_BRIDGE_NOTIFY__URLS", '["json://127.0.0.1:9/ok", "nosuchservice://S3cretToken/x"]')
    result = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "TEVO_BRIDGE_NOTIFY__URLS[1] (nosuchservice://****) is not a URL Apprise can send to" in result.output
    assert "S3cretToken" not in result.output
