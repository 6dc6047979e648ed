"""[server] admin_port: metrics and the OpenAPI document on their own listener, off the internet-facing one."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import API_KEY, make_settings
from tevo_bridge.serve import running_daemon
from tevo_bridge.store import ORDER_STATES

ADMIN_ONLY = ("/metrics", "/openapi.json", "/docs")


@pytest.fixture
def split(tmp_path, pos_db):
    with running_daemon(make_settings(tmp_path, pos_db, server={"admin_port": 0})) as running:
        yield running


def test_admin_paths_are_404_on_the_public_listener_and_served_on_the_admin_one(split):
    assert split.admin_url is not None and split.admin_url != split.base_url
    for path in ADMIN_ONLY:
        response = httpx.get(split.base_url + path, timeout=10)
        assert response.status_code == 404, path
        assert response.json() == {"status": "error", "error": "not_found"}
    assert httpx.get(split.admin_url + "/metrics", timeout=10).text.count("tevo_bridge_orders{") == len(ORDER_STATES)
    schema = httpx.get(split.admin_url + "/openapi.json", timeout=10).json()
    assert "/order-integration/holds" in schema["paths"] and "/webhooks/tevo/{token}" in schema["paths"]
    assert httpx.get(split.admin_url + "/docs", timeout=10).status_code == 404  # no Swagger UI from a CDN (issue 20)


def test_health_is_on_both_listeners(split):
    for base in (split.base_url, split.admin_url):
        assert httpx.get(base + "/livez", timeout=10).json() == {"status": "ok"}
        assert httpx.get(base + "/readyz", timeout=10).status_code == 200


def test_intake_is_only_on_the_public_listener(split):
    body = {"remote_id": "91508", "quantity": 1, "global_id": "admin-split-1"}
    assert httpx.post(split.admin_url + "/order-integration/holds", json=body, headers={"X-Api-Key": API_KEY},
                      timeout=10).status_code == 404
    response = httpx.post(split.base_url + "/order-integration/holds", json=body, headers={"X-Api-Key": API_KEY},
                          timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "held"
    metrics = httpx.get(split.admin_url + "/metrics", timeout=10).text
    assert 'tevo_bridge_holds{state="held"} 1.0' in metrics  # both listeners share one runtime and store


def test_without_admin_port_everything_stays_on_one_listener(tmp_path, pos_db):
    with running_daemon(make_settings(tmp_path, pos_db)) as daemon:
        assert daemon.admin_url is None
        assert httpx.get(daemon.base_url + "/metrics", timeout=10).status_code == 200
        assert httpx.get(daemon.base_url + "/openapi.json", timeout=10).status_code == 200


def test_an_admin_port_in_use_stops_the_daemon_from_starting(tmp_path, pos_db):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="did not start"), \
                running_daemon(make_settings(tmp_path, pos_db, server={"admin_port": port}), startup_timeout=10):
            pass
