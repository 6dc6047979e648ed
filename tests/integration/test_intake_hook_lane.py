"""An Order Integration hold is answered while every worker's job is stuck inside a POS hook.

The holds have hook threads of their own (``PluginHost.hold(..., intake=True)``): with more workers than
hook threads to spare, a hold TEvo waits on (``[server] hold_budget``) must not queue behind the jobs' hooks.
"""

from __future__ import annotations

import queue
import threading

import httpx
from tevo_bridge_sqlite_pos.plugin import SqlitePos

from tests.integration.conftest import API_KEY, make_settings, pos_rows
from tests.pos_stubs import HOLD, ITEM, StubPos
from tevo_bridge import hookimpl
from tevo_bridge.config import Settings
from tevo_bridge.loopback.stack import wait_for
from tevo_bridge.pos.host import DEFAULT_POOL_SIZE, PluginHost, pool_size_for
from tevo_bridge.pos.types import Availability
from tevo_bridge.serve import running_daemon

WORKERS = 2
HOLDS = "/order-integration/holds"


class BlockedReleases(SqlitePos):
    """The SQLite POS, but each release waits at a gate the test opens (a POS that has stopped answering)."""

    def __init__(self, config: SqlitePos.Config) -> None:
        super().__init__(config)
        self.gate = threading.Event()
        self.entered: queue.SimpleQueue[str] = queue.SimpleQueue()

    @hookimpl
    def pos_release_hold(self, hold):
        self.entered.put(hold.global_id)
        self.gate.wait(30)
        return super().pos_release_hold(hold)


def hold(client: httpx.Client, global_id: str) -> httpx.Response:
    return client.post(HOLDS, json={"remote_id": "91508", "quantity": 1, "global_id": global_id, "price": "415.0"},
                       headers={"X-Api-Key": API_KEY})


def test_a_hold_is_answered_while_every_worker_is_blocked_in_a_pos_hook(tmp_path, pos_db):
    settings = make_settings(tmp_path, pos_db, pipeline={"workers": WORKERS})
    plugin = BlockedReleases(BlockedReleases.Config(database=pos_db))
    # The workers' hook threads exactly as many as the workers: all of them taken by the stuck releases.
    host = PluginHost("sqlite_pos", plugin, pool_size=WORKERS)
    with running_daemon(settings, pos_host=host) as daemon, httpx.Client(base_url=daemon.base_url, timeout=10) as c:
        for global_id in ("g-1", "g-2", "g-3"):
            assert hold(c, global_id).json()["status"] == "held"
            released = c.post(f"{HOLDS}/{global_id}/release", json={}, headers={"X-Api-Key": API_KEY})
            assert released.json()["status"] == "released", released.text
        stuck = {plugin.entered.get(timeout=10) for _ in range(WORKERS)}  # each worker's job inside the hook

        answer = hold(c, "g-4")

        assert answer.status_code == 200 and answer.json()["status"] == "held", answer.text
        assert not plugin.gate.is_set() and plugin.entered.empty()  # the jobs are still where they were
        assert len(stuck) == WORKERS
        plugin.gate.set()
        daemon_holds = "SELECT global_id, state FROM holds ORDER BY global_id"
        assert wait_for(lambda: pos_rows(pos_db, daemon_holds) == [
            ("g-1", "released"), ("g-2", "released"), ("g-3", "released"), ("g-4", "held")])


def test_the_daemon_sizes_the_workers_hook_threads_from_the_workers():
    assert pool_size_for(Settings(pipeline={"workers": 8}).pipeline.workers) == DEFAULT_POOL_SIZE
    assert pool_size_for(24) == 48  # a job's stock and deliverability questions run at once


class StuckStockChecks(StubPos):
    """``pos_check_inventory`` blocks until the test opens ``gate``; holds answer at once."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.inside = threading.Event()

    @hookimpl
    def pos_check_inventory(self, item):
        self.inside.set()
        self.gate.wait(30)
        return Availability(item.remote_id, 1)


async def test_an_intake_hold_does_not_queue_behind_a_full_workers_pool():
    plugin = StuckStockChecks()
    with PluginHost("stuck", plugin, pool_size=1) as host:
        stuck = host._submit("pos_check_inventory", {"item": ITEM})  # the workers' one thread, taken
        assert plugin.inside.wait(10)
        try:
            assert (await host.hold(HOLD, intake=True)).held
            assert not stuck.done()
        finally:
            plugin.gate.set()
        assert stuck.result(timeout=10) == Availability(ITEM.remote_id, 1)
