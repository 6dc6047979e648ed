"""Part 5: keys, tokens, body limits, and a bounded flood on loopback."""

from __future__ import annotations

import httpx
import pytest

from tests.reliability.flood import run_flood
from tests.reliability.hostile import Snapshot
from tevo_bridge.intake import http as intake_http
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, stack

LIMIT = 4096
OI_PATHS = ["/order-integration/holds", "/order-integration/invoices", "/order-integration/holds/G-1/release"]
HOLD = {"remote_id": "88213", "quantity": 1, "global_id": "auth-1"}
WRONG_KEYS = {"missing": None, "empty": "", "wrong": "not-the-key", "prefix": API_KEY[:-1],
              "longer": API_KEY + "0", "other case": API_KEY.upper(), "webhook token": WEBHOOK_TOKEN,
              "non-ascii": "ключ".encode()}
WRONG_TOKENS = {"one more": WEBHOOK_TOKEN + "x", "one less": WEBHOOK_TOKEN[:-1], "other case": WEBHOOK_TOKEN.upper(),
                "api key": API_KEY, "empty-ish": "-", "padded": f" {WEBHOOK_TOKEN}"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    with stack(tmp, log_level="info", server={"max_body_bytes": LIMIT}) as run:
        yield run, Snapshot(tmp / "state.sqlite3", run.pos_db)


@pytest.mark.parametrize("path", OI_PATHS)
@pytest.mark.parametrize("key", WRONG_KEYS.values(), ids=WRONG_KEYS.keys())
def test_a_missing_or_wrong_key_is_401_and_stores_nothing(daemon, path, key):
    run, snapshot = daemon
    before = snapshot.take()
    headers = {} if key is None else {"X-Api-Key": key}
    response = httpx.post(run.daemon.base_url + path, json=HOLD, headers=headers, timeout=10)
    assert (response.status_code, response.json()) == (401, {"status": "error", "error": "unauthorized"})
    assert snapshot.take() == before


def test_keys_are_compared_in_constant_time_against_every_key(monkeypatch):
    compared = []

    def spy(a, b):
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(intake_http.hmac, "compare_digest", spy)
    keys = ["first-key-0123456789", "second-key-0123456789", "third-key-0123456789"]
    assert intake_http.key_matches("first-key-0123456789", keys)  # matches the first; still tries all three
    assert intake_http.key_matches("nothing-like-it", keys) is False
    assert len(compared) == 6 and all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in compared)


@pytest.mark.parametrize("token", WRONG_TOKENS.values(), ids=WRONG_TOKENS.keys())
def test_a_wrong_webhook_token_is_404_and_stores_nothing(daemon, token):
    run, snapshot = daemon
    before = snapshot.take()
    response = httpx.post(f"{run.daemon.base_url}/webhooks/tevo/{token}", content=b"event_type=order_created",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert response.status_code == 404
    assert snapshot.take() == before


def _chunks(total: int):
    sent = 0
    while sent < total:
        yield b"x" * 1024
        sent += 1024


@pytest.mark.parametrize("path", [*OI_PATHS, f"/webhooks/tevo/{WEBHOOK_TOKEN}"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_413_and_stores_nothing(daemon, path, declared):
    run, snapshot = daemon
    before = snapshot.take()
    body = b"x" * (LIMIT + 1) if declared else _chunks(LIMIT * 4)
    response = httpx.post(run.daemon.base_url + path, content=body, timeout=10,
                          headers={"X-Api-Key": API_KEY, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
    assert snapshot.take() == before


def check_flood(run) -> None:
    assert run.dropped == 0 and run.lost == 0, run.figures()
    assert set(run.statuses) <= {200, 409, 503}, run.statuses  # 409: the listing's seats are all held
    assert run.acknowledged > 0 and run.alive


def test_a_flood_degrades_gracefully_and_loses_nothing_acknowledged(tmp_path, figures):
    run = run_flood(tmp_path, requests=400, concurrency=32, time_limit=30)
    figures(run.figures())
    check_flood(run)


@pytest.mark.full
def test_a_long_flood_degrades_gracefully_and_loses_nothing_acknowledged(tmp_path, figures):
    run = run_flood(tmp_path, requests=5000, concurrency=64, time_limit=120)
    figures(run.figures())
    check_flood(run)
