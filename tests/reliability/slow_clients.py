"""Issue 20 item 1: slow and idle clients must not stall the public listener.

The daemon runs as a real subprocess (``tevo-bridge run``) under a low open-file limit (RLIMIT_NOFILE 256,
as a small service might have), and each attack opens hundreds of raw sockets to it:

- ``idle``: connect and send nothing;
- ``headers``: send request headers one byte at a time;
- ``body_unauthenticated``: a hold with a wrong API key announcing a 100 kB body, sent a byte at a time;
- ``body_authenticated``: the same to the webhook route with the right token (an attacker who has it);
- ``parked_unauthenticated`` / ``parked_authenticated``: a body one byte short of ``max_body_bytes``, then
  nothing (the memory attack).

Before, during and after each attack, holds are sent on fresh connections as TEvo would; the run records
whether they were answered (and how fast: printed, not asserted), how many attack connections the attacker
still holds and how many the daemon closed, the daemon's open descriptors and its RSS.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_crash import daemon_env
from tevo_bridge.loopback.seed import seed_sqlite_mirror
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, settings_for
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.server import running_sandbox
from tevo_bridge.serve import free_port

NOFILE = 256
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 3.0
MAX_BODY = 1_048_576
TRICKLE_EVERY = 0.5
HOLD_REMOTE_IDS = ["88213", "88702"]
ATTACKS = ["idle", "headers", "body_unauthenticated", "body_authenticated", "parked_unauthenticated",
           "parked_authenticated"]


def _request_head(kind: str, length: int) -> bytes:
    if kind.endswith("_authenticated"):
        return (f"POST /webhooks/tevo/{WEBHOOK_TOKEN} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n").encode()
    return (f"POST /order-integration/holds HTTP/1.1\r\nHost: x\r\nX-Api-Key: not-the-key\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


class Attacker:
    """Holds ``count`` raw connections of one ``kind`` open, trickling bytes, and notices which the daemon closes."""

    def __init__(self, kind: str, count: int, port: int) -> None:
        self.kind, self.count, self.port = kind, count, port
        # A sustained attack opens new connections as the daemon closes them; a burst of parked bodies does not.
        self.replenish = not kind.startswith("parked_")
        self.opened = 0
        self.socks: list[socket.socket] = []
        self.closed_by_daemon = 0
        self.refused = 0  # could not even connect
        self.pending: dict[socket.socket, bytes] = {}  # what each still has to trickle
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"attack-{kind}", daemon=True)

    @property
    def held(self) -> int:
        return len(self.socks)

    def start(self) -> None:
        self._fill()
        self.thread.start()

    def _fill(self) -> None:
        while len(self.socks) < self.count:
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                self.refused += 1
                return
            self.opened += 1
            self.socks.append(sock)
            self._begin(sock)

    def end(self) -> None:
        """Stop opening new connections (those open stay, trickling, until the daemon closes them)."""
        self.replenish = False

    def _begin(self, sock: socket.socket) -> None:
        kind = self.kind
        if kind == "headers":
            self.pending[sock] = _request_head("body_unauthenticated", 10)
        elif kind.startswith("body_"):
            self._send(sock, _request_head(kind, 100_000))
            self.pending[sock] = b"x" * 100_000
        elif kind.startswith("parked_"):
            self._send(sock, _request_head(kind, MAX_BODY) + b"x" * (MAX_BODY - 1))

    def _send(self, sock: socket.socket, data: bytes) -> None:
        with contextlib.suppress(OSError):  # the daemon answered and closed: noticed by _reap
            sock.sendall(data)

    def _run(self) -> None:
        while not self.stop.wait(TRICKLE_EVERY):
            self._reap()
            if self.replenish:
                self._fill()
            for sock, rest in list(self.pending.items()):
                if rest and sock in self.socks:
                    self._send(sock, rest[:1])
                    self.pending[sock] = rest[1:]

    def _reap(self) -> None:
        """Drop the connections the daemon closed (EOF or reset), reading and discarding any answer."""
        if not self.socks:
            return
        poll = select.poll()
        by_fd = {sock.fileno(): sock for sock in self.socks}
        for fd in by_fd:
            poll.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        for fd, _ in poll.poll(0):
            sock = by_fd[fd]
            try:
                while sock.recv(65536, socket.MSG_DONTWAIT):
                    pass
            except BlockingIOError:
                continue  # an answer, but not closed yet
            except OSError:
                pass
            self.socks.remove(sock)
            self.pending.pop(sock, None)
            self.closed_by_daemon += 1
            sock.close()

    def wait_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.socks and time.monotonic() < deadline:
            time.sleep(0.1)  # the trickling thread reaps; nothing to wait on here
            if not self.thread.is_alive():
                self._reap()
        return not self.socks

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        for sock in self.socks:
            sock.close()
        self.socks.clear()


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    statuses: list[int | str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return bool(self.statuses) and all(s in (200, 409) for s in self.statuses)

    def figures(self) -> dict[str, Any]:
        ms = sorted(x * 1000 for x in self.latencies) or [0.0]
        return {"holds": len(self.statuses), "answered": self.answered, "p50_ms": round(statistics.median(ms), 1),
                "max_ms": round(ms[-1], 1), "statuses": sorted(set(map(str, self.statuses)))}


@dataclass
class AttackRun:
    kind: str
    count: int
    before: Phase
    during: Phase
    after: Phase
    opened: int  # attack connections opened in all
    held_by_attack: int  # attack connections still open a moment into the attack
    refused_connects: int
    closed_by_daemon: int
    all_closed: bool
    fds_before: int
    fds_peak: int
    fds_after: int
    rss_before: float
    rss_peak: float
    rss_after: float

    def figures(self) -> dict[str, Any]:
        return {"attack": self.kind, "connections": self.count, "opened": self.opened,
                "held_by_attack": self.held_by_attack,
                "refused_connects": self.refused_connects, "closed_by_daemon": self.closed_by_daemon,
                "all_closed": self.all_closed, "fds": [self.fds_before, self.fds_peak, self.fds_after],
                "rss_mb": [round(self.rss_before), round(self.rss_peak), round(self.rss_after)],
                "holds_before": self.before.figures(), "holds_during": self.during.figures(),
                "holds_after": self.after.figures()}


@dataclass
class SlowClientsRun:
    attacks: list[AttackRun] = field(default_factory=list)
    out_of_descriptors: bool = False  # the daemon's log says accept() failed
    alive: bool = False
    max_connections: int = 0

    def figures(self) -> dict[str, Any]:
        return {"nofile": NOFILE, "out_of_descriptors": self.out_of_descriptors, "alive": self.alive,
                "attacks": [a.figures() for a in self.attacks]}


class Holds:
    """Holds on fresh connections, as TEvo sends them, each released at once so the seats last."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.n = 0

    def one(self, phase: Phase) -> None:
        self.n += 1
        global_id = f"slow-{self.n}"
        body = {"remote_id": HOLD_REMOTE_IDS[self.n % 2], "quantity": 1, "global_id": global_id}
        began = time.monotonic()
        try:
            with httpx.Client(base_url=self.base, timeout=10) as client:
                response = client.post("/order-integration/holds", json=body, headers={"X-Api-Key": API_KEY})
                phase.latencies.append(time.monotonic() - began)
                phase.statuses.append(response.status_code)
                client.post(f"/order-integration/holds/{global_id}/release", json={},
                            headers={"X-Api-Key": API_KEY})
        except httpx.HTTPError as exc:
            phase.statuses.append(type(exc).__name__)

    def phase(self, count: int, every: float = 0.1) -> Phase:
        phase = Phase()
        for _ in range(count):
            self.one(phase)
            time.sleep(every)
        return phase


@contextlib.contextmanager
def deploy_caddy(tmp: Path, upstream: int) -> Iterator[int]:
    """deploy/Caddyfile on a loopback port in front of the daemon; yields that port."""
    from tests.caddy import on_loopback, running_caddy, validated_caddy

    caddyfile = Path(__file__).resolve().parents[2] / "deploy" / "Caddyfile"
    caddy = validated_caddy(caddyfile)
    port = free_port()
    text = on_loopback(caddyfile.read_text(), "tickets.example.com", port)
    text = text.replace("reverse_proxy 127.0.0.1:8080", f"reverse_proxy 127.0.0.1:{upstream}")
    (tmp / "caddy").mkdir(exist_ok=True)
    with running_caddy(caddy, text, tmp / "caddy", port):
        yield port


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


@contextlib.contextmanager
def low_limit_daemon(tmp: Path, **server: Any) -> Iterator[Daemon]:
    port = free_port()
    inventory = demo_inventory()
    pos_db = tmp / "pos.sqlite3"
    seed_sqlite_mirror(pos_db, inventory, tmp / "tickets")
    log = tmp / "daemon.log"
    with running_sandbox(seed=5, inventory=inventory) as sandbox:
        settings = settings_for(sandbox, tmp, pos_db, port, log={"level": "info"},
                                server={"header_timeout": HEADER_TIMEOUT, "body_timeout": BODY_TIMEOUT,
                                        "max_body_bytes": MAX_BODY, "hold_budget": 3.0, **server})
        process = subprocess.Popen([sys.executable, "-m", "tevo_bridge.cli", "run"], env=daemon_env(settings, None),
                                   stdout=log.open("a"), stderr=subprocess.STDOUT, preexec_fn=_limit_files)
        daemon = Daemon(process, f"http://127.0.0.1:{port}", log)
        try:
            _wait_up(daemon)
            yield daemon
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_up(daemon: Daemon) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(daemon.base + "/livez", timeout=1).status_code == 200:
                return
        assert daemon.process.poll() is None, f"daemon exited early:\n{daemon.log.read_text()[-3000:]}"
        time.sleep(0.1)  # polling a port that is not open yet: no event to wait on
    raise AssertionError("daemon did not start")


def attack(daemon: Daemon, port: int, kind: str, count: int, holds: Holds, per_phase: int) -> AttackRun:
    fds_before, rss_before = daemon.fds(), daemon.rss_mb()
    before = holds.phase(per_phase)
    attacker = Attacker(kind, count, port)
    attacker.start()
    fds_peak, rss_peak = daemon.fds(), daemon.rss_mb()
    time.sleep(0.5)
    held = attacker.held
    fds_peak, rss_peak = max(fds_peak, daemon.fds()), max(rss_peak, daemon.rss_mb())
    during = holds.phase(per_phase)
    fds_peak, rss_peak = max(fds_peak, daemon.fds()), max(rss_peak, daemon.rss_mb())
    attacker.end()
    all_closed = attacker.wait_closed(timeout=HEADER_TIMEOUT + BODY_TIMEOUT + 20)
    closed = attacker.closed_by_daemon
    attacker.close()
    time.sleep(1.0)  # let the daemon finish closing what it cut
    after = holds.phase(per_phase)
    return AttackRun(kind, count, before, during, after, attacker.opened, held, attacker.refused, closed, all_closed,
                     fds_before, fds_peak, daemon.fds(), rss_before, rss_peak, daemon.rss_mb())


def run_slow_clients(tmp: Path, count: int = 300, per_phase: int = 5, kinds: list[str] | None = None,
                     through_caddy: bool = False, http_parser: str = "auto") -> SlowClientsRun:
    """``through_caddy``: attacks and holds go through the shipped deploy/Caddyfile, as on a real host;
    ``http_parser``: the daemon's ``[server] http_parser``."""
    result = SlowClientsRun()
    with low_limit_daemon(tmp, http_parser=http_parser) as daemon, contextlib.ExitStack() as proxy:
        port = int(daemon.base.rsplit(":", 1)[1])
        if through_caddy:
            port = proxy.enter_context(deploy_caddy(tmp, port))
        holds = Holds(f"http://127.0.0.1:{port}")
        for kind in kinds or ATTACKS:
            result.attacks.append(attack(daemon, port, kind, count, holds, per_phase))
        result.alive = httpx.get(daemon.base + "/livez", timeout=10).status_code == 200
        result.out_of_descriptors = "out of system resource" in daemon.log.read_text()
    return result
