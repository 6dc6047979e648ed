"""Issue 20 item 1, one behaviour at a time on a real listener: header and body deadlines, the connection cap,
and bodies left unread until the caller is authenticated (tevo_bridge/connections.py, intake/http.py)."""

from __future__ import annotations

import json
import socket
import sqlite3
import time

import httpx
import pytest

from tests.integration.conftest import API_KEY, WEBHOOK_TOKEN, make_settings
from tevo_bridge.connections import FD_RESERVE, MAX_BACKLOG, MIN_CONNECTIONS, Budget, connection_budget
from tevo_bridge.serve import running_daemon

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
CAP = 16
HOLD = {"remote_id": "91508", "quantity": 1, "global_id": "deadline-1"}


#: The guard runs on both of uvicorn's HTTP parsers ([server] http_parser): every test here runs on each.
PARSERS = ["httptools", "h11"]


@pytest.fixture(params=PARSERS)
def daemon(request, tmp_path, pos_db):
    server = {"header_timeout": HEADER_TIMEOUT, "body_timeout": BODY_TIMEOUT, "max_connections": CAP,
              "admin_port": 0, "http_parser": request.param}
    with running_daemon(make_settings(tmp_path, pos_db, server=server)) as running:
        yield running


@pytest.fixture(params=PARSERS)
def patient(request, tmp_path, pos_db):
    """Deadlines far beyond read_until_closed's 10 s: a connection closed in that time was closed for
    another reason (answered without its body, evicted at the cap)."""
    server = {"header_timeout": 60.0, "body_timeout": 60.0, "max_connections": CAP, "http_parser": request.param}
    with running_daemon(make_settings(tmp_path, pos_db, server=server)) as running:
        yield running


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_until_closed(sock: socket.socket, limit: float = 10.0) -> tuple[bytes, float]:
    """Everything the daemon sends until it closes the connection, and how long that took (10 s: it never did)."""
    began = time.monotonic()
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        raise AssertionError(f"the daemon kept the connection open for {limit} s; got {data!r}") from None
    except ConnectionResetError:
        pass
    return data, time.monotonic() - began


def answer(data: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.mark.parametrize("listener", ["public", "admin"])
def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(daemon, listener):
    sock = connect(daemon.base_url if listener == "public" else daemon.admin_url)
    data, seconds = read_until_closed(sock)
    assert data == b""  # nothing was asked, so nothing is answered
    assert seconds >= HEADER_TIMEOUT * 0.9, seconds  # not closed before the deadline


@pytest.mark.parametrize("listener", ["public", "admin"])
def test_headers_sent_a_byte_at_a_time_are_cut_with_408(daemon, listener):
    sock = connect(daemon.base_url if listener == "public" else daemon.admin_url)
    head = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"y" * 200
    sock.settimeout(0.2)
    for byte in head:  # keeps trickling well past the deadline unless the daemon closes first
        try:
            sock.send(bytes([byte]))
            if sock.recv(65536, socket.MSG_PEEK):
                break
        except TimeoutError:
            continue
        except OSError:
            break
    data, _ = read_until_closed(sock)
    status, headers, body = answer(data)
    assert (status, body) == (408, {"status": "error", "error": "request_timeout"})
    assert headers["connection"] == "close"


def test_a_body_not_finished_in_time_is_408_and_nothing_is_recorded(daemon):
    sock = connect(daemon.base_url)
    sock.sendall(f"POST /webhooks/tevo/{WEBHOOK_TOKEN} HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nevent_type=".encode())
    data, seconds = read_until_closed(sock)
    status, headers, body = answer(data)
    assert (status, body) == (408, {"status": "error", "error": "request_timeout"}) and headers["connection"] == "close"
    assert seconds >= BODY_TIMEOUT * 0.9, seconds
    store = sqlite3.connect(daemon.runtime.settings.store.path)
    try:
        assert store.execute("SELECT COUNT(*) FROM inbox").fetchone() == (0,)
    finally:
        store.close()
    assert httpx.get(daemon.base_url + "/livez", timeout=10).status_code == 200


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/order-integration/holds", {"X-Api-Key": "wrong"}, 401),
    ("/order-integration/holds", {}, 401),
    ("/webhooks/tevo/not-the-token", {}, 404),
], ids=["wrong key", "no key", "wrong token"])
def test_an_unauthenticated_body_is_never_read_and_the_connection_is_closed(patient, path, headers, status):
    """The body is announced (under the limit) but never sent: an answer at all means it was not waited for."""
    sock = connect(patient.base_url)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Type: application/json\r\n"
                 "Content-Length: 500000\r\n\r\n".encode())
    got, answered_headers, _ = answer(read_until_closed(sock)[0])
    assert got == status and answered_headers["connection"] == "close"


def test_an_authenticated_body_over_the_limit_sent_in_chunks_is_413(daemon):
    def chunks():
        for _ in range(2048):
            yield b"x" * 1024  # 2 MiB against the 1 MiB default, no Content-Length

    response = httpx.post(daemon.base_url + "/order-integration/holds", content=chunks(), timeout=10,
                          headers={"X-Api-Key": API_KEY, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
    assert response.headers["connection"] == "close"


def test_at_the_cap_the_oldest_idle_connection_makes_room_and_holds_still_work(patient):
    idle = [connect(patient.base_url) for _ in range(CAP)]
    time.sleep(0.2)  # the listener accepts them all (asynchronously) before the hold comes
    response = httpx.post(patient.base_url + "/order-integration/holds", json=HOLD, headers={"X-Api-Key": API_KEY},
                          timeout=10)
    assert response.status_code == 200, response.text
    assert read_until_closed(idle[0])[0] == b""  # evicted, long before its deadline
    assert all(still_open(sock) for sock in idle[1:])
    for sock in idle:
        sock.close()


def unfinished_body(base: str) -> socket.socket:
    sock = connect(base)
    sock.sendall(f"POST /webhooks/tevo/{WEBHOOK_TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nx".encode())
    return sock


def still_open(sock: socket.socket) -> bool:
    sock.settimeout(0.1)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except TimeoutError:
        return True
    except OSError:
        return False


def test_at_the_cap_idle_connections_go_before_a_body_still_arriving(patient):
    trickler = unfinished_body(patient.base_url)  # the oldest, but its request is under way
    idle = [connect(patient.base_url) for _ in range(CAP - 1)]
    time.sleep(0.2)
    response = httpx.post(patient.base_url + "/order-integration/holds", json=HOLD, headers={"X-Api-Key": API_KEY},
                          timeout=10)
    assert response.status_code == 200, response.text
    assert not still_open(idle[0]) and still_open(trickler)
    for sock in [trickler, *idle]:
        sock.close()


def test_at_a_cap_full_of_unfinished_bodies_the_oldest_is_cut_with_408_and_the_hold_answered(patient):
    tricklers = [unfinished_body(patient.base_url) for _ in range(CAP)]
    time.sleep(0.2)
    response = httpx.post(patient.base_url + "/order-integration/holds", json=HOLD, headers={"X-Api-Key": API_KEY},
                          timeout=10)
    assert response.status_code == 200, response.text
    assert answer(read_until_closed(tricklers[0])[0])[0] == 408  # cut to make room, long before its deadline
    assert all(still_open(sock) for sock in tricklers[1:])
    for sock in tricklers:
        sock.close()


def test_the_cap_and_the_backlog_leave_descriptors_for_the_store_and_the_pos():
    one = connection_budget(1000, 1, soft_limit=256)
    assert one.max_connections + one.backlog <= 256 - FD_RESERVE and one.max_connections >= 64
    two = connection_budget(1000, 2, soft_limit=256)
    assert 2 * (two.max_connections + two.backlog) <= 256 - FD_RESERVE
    assert connection_budget(1000, 2, soft_limit=4096).max_connections == 1000  # the units' LimitNOFILE
    assert connection_budget(1000, 1, soft_limit=1 << 20) == Budget(1000, MAX_BACKLOG)
    assert connection_budget(100, 1, soft_limit=65536).max_connections == 100
    assert connection_budget(1000, 1, soft_limit=130).max_connections == MIN_CONNECTIONS
