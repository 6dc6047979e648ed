"""Refused requests are logged with reason and peer, never the secret sent, at most once per window."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import httpx
import pytest

from tests.integration.conftest import API_KEY, WEBHOOK_TOKEN, make_settings
from tevo_bridge.config import Settings
from tevo_bridge.intake.refusals import RefusalLog
from tevo_bridge.log import configure_logging
from tevo_bridge.serve import running_daemon

WRONG_TOKEN = "wrong-token-but-maybe-a-typo-of-the-real-one-XYZ"
WRONG_KEY = "wrong-api-key-sent-by-a-caller-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged(tmp_path, pos_db):
    """A real daemon whose log lines land in a buffer, with a clock the test moves."""
    out = io.StringIO()
    settings: Settings = make_settings(tmp_path, pos_db)
    configure_logging("info", "json", settings.secrets(), stream=out)
    clock = Clock()
    try:
        with running_daemon(settings) as daemon:
            daemon.runtime.refusals.clock = clock
            yield daemon, out, clock
    finally:
        configure_logging("warning", "json")


def refusals(out: io.StringIO) -> list[dict]:
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    return [r for r in records if r["event"] == "intake.refused"]


def webhook(daemon, token: str, body: bytes = b"event_type=order_created&body=%7B%22id%22%3A1%7D"):
    return httpx.post(f"{daemon.base_url}/webhooks/tevo/{token}", content=body, timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_a_wrong_webhook_token_is_logged_once_per_window_with_the_count_left_out(logged):
    daemon, out, clock = logged
    for _ in range(5):
        assert webhook(daemon, WRONG_TOKEN).status_code == 404
    [line] = refusals(out)
    assert line["reason"] == "webhook_token_wrong" and line["peer"] == "127.0.0.1" and line["status"] == 404
    assert line["channel"] == "webhook" and line["suppressed"] == 0 and line["logger"] == "tevo_bridge.intake.refusals"

    clock.now += daemon.runtime.refusals.window
    webhook(daemon, WRONG_TOKEN)
    assert [r["suppressed"] for r in refusals(out)] == [0, 4]
    text = out.getvalue()
    assert WRONG_TOKEN not in text and WEBHOOK_TOKEN not in text and "/webhooks/tevo/" not in text


def test_wrong_and_missing_api_keys_are_logged_without_the_key(logged):
    daemon, out, _ = logged
    body = {"remote_id": "91508", "quantity": 1, "global_id": "refused-1"}
    url = daemon.base_url + "/order-integration/holds"
    assert httpx.post(url, json=body, headers={"X-Api-Key": WRONG_KEY}, timeout=10).status_code == 401
    assert httpx.post(url, json=body, timeout=10).status_code == 401
    assert [(r["reason"], r["header"]) for r in refusals(out)] == [("api_key_wrong", "X-Api-Key"),
                                                                  ("api_key_missing", "X-Api-Key")]
    assert WRONG_KEY not in out.getvalue() and API_KEY not in out.getvalue()


def test_invalid_bodies_are_logged_with_the_fields_that_failed(logged):
    daemon, out, _ = logged
    response = httpx.post(daemon.base_url + "/order-integration/holds", headers={"X-Api-Key": API_KEY},
                          json={"remote_id": "91508", "quantity": 0, "global_id": "refused-2"}, timeout=10)
    assert response.status_code == 422
    assert webhook(daemon, WEBHOOK_TOKEN, body=b"event_type=order_created&body=not-json").status_code == 400
    oi, hook = refusals(out)
    assert (oi["reason"], oi["channel"], oi["path"]) == ("invalid_body", "order_integration",
                                                         "/order-integration/holds")
    assert "quantity" in oi["errors"]
    assert (hook["reason"], hook["channel"], list(hook["errors"])) == ("invalid_body", "webhook", ["body"])


def test_the_windows_kept_are_bounded():
    """A flood from many peers cannot grow memory without bound: the oldest windows are dropped."""
    refusal_log = RefusalLog(window=60, clock=lambda: 0.0, max_keys=8)
    for i in range(100):
        request = SimpleNamespace(client=SimpleNamespace(host=f"198.51.100.{i}"), method="POST")
        refusal_log.note(request, "webhook", "webhook_token_wrong", 404)  # type: ignore[arg-type]
    assert len(refusal_log._windows) <= 8


def test_a_body_over_the_limit_is_logged_without_the_path(logged):
    daemon, out, _ = logged
    limit = daemon.runtime.settings.server.max_body_bytes
    assert webhook(daemon, WEBHOOK_TOKEN, body=b"x" * (limit + 1)).status_code == 413
    [line] = refusals(out)
    assert (line["channel"], line["reason"], line["status"], line["max_bytes"]) == (
        "webhook", "body_too_large", 413, limit)
    assert WEBHOOK_TOKEN not in out.getvalue() and "***" not in out.getvalue()
