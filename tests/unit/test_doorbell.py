"""Idle workers are woken one per committed job (pipeline/doorbell.py), and no job waits for the idle poll.

The worker tests run the real worker loop (8 workers) on a real SQLite store, with the idle poll set far
beyond every wait here, so a job that ran at all ran because it was rung for or came due.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from types import SimpleNamespace

from tevo_bridge.config import Settings
from tevo_bridge.pipeline.doorbell import Doorbell, Ring
from tevo_bridge.pipeline.worker import Worker
from tevo_bridge.store import AsyncStore, SqliteStore

IDLE_POLL = 60.0  # longer than any test waits: reaching it would fail the test by its liveness bound
LIVENESS = 10.0


# The doorbell on its own ---------------------------------------------------------------------------------


def test_a_ring_wakes_one_idle_worker_of_several():
    async def scenario() -> list[Ring]:
        bell = Doorbell(4)
        waits = [asyncio.create_task(bell.wait(IDLE_POLL)) for _ in range(4)]
        await asyncio.sleep(0)
        bell.ring()
        done, pending = await asyncio.wait(waits, timeout=0.2)
        assert len(done) == 1 and len(pending) == 3
        bell.close()
        return list(await asyncio.gather(*waits))

    rings = asyncio.run(scenario())
    assert sorted(r.value for r in rings) == ["closed", "closed", "closed", "job"]


def test_a_ring_nobody_heard_is_kept_for_the_next_worker_about_to_sleep():
    async def scenario() -> tuple[Ring, Ring, Ring]:
        bell = Doorbell(2)
        bell.ring()  # the job was committed while the worker was between an empty claim and its wait
        first = await bell.wait(IDLE_POLL)
        second = await bell.wait(0.05)
        bell.ring()
        bell.claimed()  # a busy worker's claim served it
        third = await bell.wait(0.05)
        return first, second, third

    assert asyncio.run(scenario()) == (Ring.JOB, Ring.TIMEOUT, Ring.TIMEOUT)


def test_kept_rings_are_bounded_by_the_number_of_workers():
    async def scenario() -> list[Ring]:
        bell = Doorbell(2)
        bell.ring(5)
        return [await bell.wait(0.05) for _ in range(3)]

    assert asyncio.run(scenario()) == [Ring.JOB, Ring.JOB, Ring.TIMEOUT]


def test_close_wakes_every_worker_now_and_later():
    async def scenario() -> list[Ring]:
        bell = Doorbell(3)
        waits = [asyncio.create_task(bell.wait(IDLE_POLL)) for _ in range(3)]
        await asyncio.sleep(0)
        bell.close()
        return [*await asyncio.gather(*waits), await bell.wait(IDLE_POLL)]

    assert asyncio.run(asyncio.wait_for(scenario(), LIVENESS)) == [Ring.CLOSED] * 4


# The worker loop with it -----------------------------------------------------------------------------------


class CountingStore:
    """The real AsyncStore, counting the calls the workers make."""

    def __init__(self, store: AsyncStore) -> None:
        self.store, self.calls = store, Counter[str]()
        self.pause_empty_claim: asyncio.Event | None = None  # holds the next empty claim's answer until set

    def __getattr__(self, name: str):
        method = getattr(self.store, name)

        async def call(*args, **kwargs):
            self.calls[name] += 1
            result = await method(*args, **kwargs)
            if name == "claim_job_or_next_due" and result[0] is None and self.pause_empty_claim is not None:
                pause, self.pause_empty_claim = self.pause_empty_claim, None
                await pause.wait()
            return result

        return call


class GatedProcessor:
    """Each order's job runs until released; records which orders started, and when."""

    def __init__(self) -> None:
        self.started: dict[int, float] = {}
        self.release = asyncio.Event()
        self.release.set()
        self.changed = asyncio.Event()

    async def process(self, order_id: int) -> None:
        self.started[order_id] = time.monotonic()
        self.changed.set()
        await self.release.wait()

    async def until(self, count: int) -> None:
        while len(self.started) < count:
            self.changed.clear()
            await self.changed.wait()


async def _workers(tmp_path, body, workers: int = 8) -> Counter[str]:
    """Run real workers on a fresh store while ``body(worker, sync_store, processor)`` runs; then stop them."""
    sync = SqliteStore(tmp_path / "state.sqlite3")
    store = CountingStore(AsyncStore(sync))
    processor = GatedProcessor()
    settings = Settings(pipeline={"workers": workers})
    worker = Worker(SimpleNamespace(store=store, settings=settings, idle_poll=IDLE_POLL), processor)  # type: ignore[arg-type]
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.2)  # every worker found the queue empty and is waiting
        assert worker.doorbell.idle == workers
        store.calls.clear()
        await asyncio.wait_for(body(worker, sync, processor), LIVENESS)
    finally:
        stop.set()
        await asyncio.wait_for(running, LIVENESS)  # stop stops every worker, though none was rung
        store.store.close()
    return store.calls


def test_each_job_wakes_one_worker_not_all_of_them(tmp_path):
    async def body(worker: Worker, sync: SqliteStore, processor: GatedProcessor) -> None:
        for order_id in range(1, 11):
            sync.enqueue_order(order_id, "webhook")
            worker.doorbell.ring(1)  # what Runtime.wake(1) does after intake's commit
            await processor.until(order_id)
            await asyncio.sleep(0.05)  # the job completed; its worker found the queue empty and waits again

    calls = asyncio.run(_workers(tmp_path, body))
    # Per job: the woken worker's claim, and its empty claim (which says when to look again) once it is
    # done. With every worker woken per job it was 8 claims and 7 looks at the queue per job.
    assert calls["claim_job_or_next_due"] <= 2 * 10, calls
    assert calls["claim_job"] == calls["next_job_due"] == 0, calls


def test_a_relay_drains_several_jobs_queued_by_one_commit_on_as_many_workers(tmp_path):
    async def body(worker: Worker, sync: SqliteStore, processor: GatedProcessor) -> None:
        processor.release.clear()  # every job runs until all five have started: only five workers can do that
        for order_id in range(1, 6):
            sync.enqueue_order(order_id, "poll")
        worker.doorbell.relay()  # Runtime.wake(): a poll, a PostgreSQL notification, a retry-all
        await processor.until(5)
        processor.release.set()

    asyncio.run(_workers(tmp_path, body))


def test_a_job_due_later_runs_when_it_is_due_without_a_ring(tmp_path):
    async def body(worker: Worker, sync: SqliteStore, processor: GatedProcessor) -> None:
        sync.enqueue_order(7, "retry", delay=0.5)  # a retry's backoff: committed, nobody rung
        worker.doorbell.ring(1)  # the ring comes before it is due: the woken worker finds nothing yet
        queued = time.monotonic()
        await processor.until(1)
        assert processor.started[7] - queued >= 0.4  # it did not run early ...
        # ... and ran once due, not at the idle poll: the liveness bound (10 s) is far below IDLE_POLL (60 s)

    asyncio.run(_workers(tmp_path, body))


def test_a_ring_kept_while_a_worker_was_between_an_empty_claim_and_its_wait_wakes_it(tmp_path):
    # Two jobs are rung for at once: one idle worker hears the first; the other worker's claim found the queue
    # empty just before the jobs were committed, so nobody hears the second ring: it is kept, and the rung
    # worker's own claim must not use it up, or the second job would wait for the idle poll.
    async def body(worker: Worker, sync: SqliteStore, processor: GatedProcessor) -> None:
        store = worker.runtime.store
        processor.release.clear()  # jobs run until the end of the test: only a second worker can start job 2
        paused = asyncio.Event()
        store.pause_empty_claim = paused
        worker.doorbell.ring(1)  # nothing queued: the woken worker's claim comes back empty, and is held there
        while store.pause_empty_claim is not None:
            await asyncio.sleep(0.01)
        sync.enqueue_order(1, "webhook")
        sync.enqueue_order(2, "webhook")
        worker.doorbell.ring(1)  # heard by the idle worker
        worker.doorbell.ring(1)  # nobody idle: kept
        await processor.until(1)  # the rung worker claimed job 1
        paused.set()  # the other worker goes on to its wait: the kept ring sends it to job 2
        await processor.until(2)
        processor.release.set()

    asyncio.run(_workers(tmp_path, body, workers=2))


# The pool's idle poll ------------------------------------------------------------------------------------


async def _polling_workers(tmp_path, body, *, idle_poll: float, workers: int = 8) -> Counter[str]:
    """As ``_workers``, with a short idle poll: what finds the jobs no ring announced (another process's)."""
    sync = SqliteStore(tmp_path / "state.sqlite3")
    store = CountingStore(AsyncStore(sync))
    processor = GatedProcessor()
    worker = Worker(SimpleNamespace(store=store, settings=Settings(pipeline={"workers": workers}),  # type: ignore[arg-type]
                                    idle_poll=idle_poll), processor)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.2)
        store.calls.clear()
        await asyncio.wait_for(body(worker, sync, processor), LIVENESS)
    finally:
        stop.set()
        await asyncio.wait_for(running, LIVENESS)
        store.store.close()
    return store.calls


def test_idle_workers_look_at_the_queue_once_per_idle_poll_together_not_once_each(tmp_path):
    async def body(worker: Worker, sync: SqliteStore, processor: GatedProcessor) -> None:
        await asyncio.sleep(2.0)  # ten idle polls of the pool

    calls = asyncio.run(_polling_workers(tmp_path, body, idle_poll=0.2))
    # One claim per poll (eight workers polling each on their own made 8 per poll, 80 here); the bound leaves
    # room for a slow loop, and the lower one shows the poll does run.
    assert 3 <= calls["claim_job_or_next_due"] <= 15, calls


def test_jobs_another_process_queued_without_a_ring_are_found_by_the_poll_and_run_on_as_many_workers(tmp_path):
    async def body(worker: Worker, sync: SqliteStore, processor: GatedProcessor) -> None:
        processor.release.clear()  # each job runs until all four have started: only four workers can do that
        for order_id in range(1, 5):
            sync.enqueue_order(order_id, "cli")  # committed by another process: nobody here rings
        await processor.until(4)
        processor.release.set()

    asyncio.run(_polling_workers(tmp_path, body, idle_poll=0.2))
