"""Issue 20, the admin side: 48 wrong dashboard logins at once while Order Integration holds keep coming.

Shared by ``tests/dashboard/test_security.py`` (which asserts on the answers) and part 12 of the full run
(which records them). Two shapes of flood: one address that names a different client in
``X-Forwarded-For`` on every guess (the daemon must not believe it: no trusted proxy is configured), and 48
loopback addresses (all of 127.0.0.0/8 is this machine), each guessing once. The login limiter answers 401
while its budget lasts, then 429 (or 503 if the password check pool is full); holds, sent one after another
meanwhile on the public listener, must keep being answered 200.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import load_fixture
from tests.dashboard.conftest import PASSWORD_HASH, csrf_of, dashboard_daemon
from tests.integration.conftest import API_KEY, INVENTORY
from tevo_bridge.serve import RunningDaemon

HOLD = load_fixture("order_integration/hold.json")
GUESSERS = 48

#: (status, seconds) of each hold sent during a flood.
HoldAnswers = list[tuple[int, float]]


def flood_addresses(spread: bool) -> list[str]:
    """48 loopback addresses, one guess each; or one address 48 times (the spoofing shape)."""
    return [f"127.0.0.{10 + i}" for i in range(GUESSERS)] if spread else ["127.0.0.1"] * GUESSERS


async def guess(daemon: RunningDaemon, address: str, spoof: bool, go: asyncio.Event) -> int:
    """One wrong login from ``address``, sent when ``go`` is set (the form fetched first, so all land together)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=daemon.admin_url or "", timeout=30, transport=transport) as http:
        form = await http.get("/dashboard/login")
        headers = {"X-Forwarded-For": f"198.51.100.{hash(address) % 250}"} if spoof else {}
        await go.wait()
        answer = await http.post("/dashboard/login", headers=headers,
                                 data={"csrf": csrf_of(form.text), "name": "Mallory", "password": "guess"})
        return answer.status_code


async def holds_meanwhile(daemon: RunningDaemon, stop: asyncio.Event, label: str) -> HoldAnswers:
    """Holds one after another (each released) until ``stop``, at least 5: what a checkout would see."""
    answers = []
    async with httpx.AsyncClient(base_url=daemon.base_url, timeout=10, headers={"X-Api-Key": API_KEY}) as http:
        i = 0
        while not stop.is_set() or i < 5:
            i += 1
            started = time.perf_counter()
            global_id = f"{label}-{i}"  # a released global id never holds again: a new one each time
            answer = await http.post("/order-integration/holds", json={**HOLD, "quantity": 1, "global_id": global_id})
            answers.append((answer.status_code, time.perf_counter() - started))
            await http.post(f"/order-integration/holds/{global_id}/release", json={"global_id": global_id})
    return answers


async def flood(daemon: RunningDaemon, addresses: list[str], spoof: bool) -> tuple[list[int], HoldAnswers]:
    """Every address guesses at once while holds are sent; no address at all gives the baseline holds."""
    go, stop = asyncio.Event(), asyncio.Event()
    guesses = [asyncio.create_task(guess(daemon, a, spoof, go)) for a in addresses]
    await asyncio.sleep(0.5)  # every guesser has its form and token
    holds = asyncio.create_task(holds_meanwhile(daemon, stop, f"flood-{len(addresses)}"))
    go.set()
    statuses = await asyncio.wait_for(asyncio.gather(*guesses), timeout=60)
    stop.set()
    return statuses, await asyncio.wait_for(holds, timeout=60)


def latency_figures(holds: HoldAnswers) -> dict[str, Any]:
    ms = sorted(seconds * 1000 for _, seconds in holds)
    return {"holds": len(holds), "statuses": dict(Counter(s for s, _ in holds)),
            "p50_ms": round(statistics.median(ms), 1), "max_ms": round(ms[-1], 1)}


@dataclass
class LoginFloodRun:
    spread: bool
    statuses: list[int]
    baseline: HoldAnswers
    holds: HoldAnswers

    @property
    def counts(self) -> Counter[int]:
        return Counter(self.statuses)

    def figures(self) -> dict[str, Any]:
        return {"flood": "48 addresses" if self.spread else "1 address, spoofed X-Forwarded-For",
                "guesses": len(self.statuses), "answers": dict(sorted(self.counts.items())),
                "holds_before": latency_figures(self.baseline), "holds_during": latency_figures(self.holds)}


def seed_pos(path: Path) -> Path:
    """The SQLite POS the integration tests' ``pos_db`` fixture makes, for runs outside pytest."""
    from tevo_bridge_sqlite_pos import store

    store.init_db(path)
    with store.connect(path) as conn:
        store.upsert_ticket_groups(conn, INVENTORY)
    return path


@contextmanager
def password_daemon(tmp: Path, pos_db: Path) -> Iterator[RunningDaemon]:
    """A daemon whose dashboard asks for a password (the one the flood never guesses)."""
    with dashboard_daemon(tmp, pos_db, auth="password", password_hash=PASSWORD_HASH) as daemon:
        yield daemon


def measure(daemon: RunningDaemon, spread: bool) -> LoginFloodRun:
    """A baseline of holds on the quiet daemon, then the flood with holds meanwhile."""
    baseline = asyncio.run(flood(daemon, [], False))[1]
    statuses, holds = asyncio.run(flood(daemon, flood_addresses(spread), spoof=not spread))
    return LoginFloodRun(spread, statuses, baseline, holds)


def run_login_flood(tmp: Path) -> list[LoginFloodRun]:
    """Both shapes of flood, each on a fresh daemon (the limiter remembers the first flood)."""
    runs = []
    for spread in (False, True):
        folder = tmp / ("spread" if spread else "spoofed")
        folder.mkdir()
        with password_daemon(folder, seed_pos(folder / "pos.sqlite3")) as daemon:
            runs.append(measure(daemon, spread))
    return runs
