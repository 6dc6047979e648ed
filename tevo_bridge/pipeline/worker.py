"""The job worker: claims due jobs under a lease and runs them, retrying with backoff.

A running job's lease is renewed while it runs (``pipeline/lease.py``); a killed worker's lapses within
``[pipeline] lease_seconds`` and the job runs again from the top, here or on another replica: the
processor's steps are written for exactly that.

The loop knows no job kind: it looks the kind up in ``HANDLERS``, which each handler joins with
``@handles(JobKind.X)`` where it is written. A kind with no handler (a row a newer tevo-bridge or a
person wrote) is refused by name and its job fails for review, rather than being dropped or retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tevo_bridge.clock import iso
from tevo_bridge.log import get_logger
from tevo_bridge.pipeline import pos_args, reads
from tevo_bridge.pipeline.doorbell import Doorbell, Ring
from tevo_bridge.pipeline.lease import LeaseKeeper, LeaseLost
from tevo_bridge.pipeline.processor import OrderProcessor, StepFailed, StepWaiting
from tevo_bridge.pos.errors import PosError, PosTimeout
from tevo_bridge.store import Event, HoldState, Job, JobKind
from tevo_bridge.tevo.errors import AuthError, TevoError

if TYPE_CHECKING:  # annotations only: tevo_bridge.seams imports modules that import this one
    from tevo_bridge.seams import WorkerRuntime

log = get_logger(__name__)

#: What runs a job: the worker and the claimed job (its order id or global id is what it works on).
JobHandler = Callable[["Worker", Job], Awaitable[None]]

#: What a free worker learns from the store: a job it now holds, or (None and) when the next one is due.
Claim = tuple[Job | None, float | None]

#: Every job kind this worker can run, each registered beside its handler by ``@handles``.
HANDLERS: dict[str, JobHandler] = {}


def handles(kind: JobKind) -> Callable[[JobHandler], JobHandler]:
    """Register the decorated function as the handler of ``kind``; one handler per kind."""

    def register(handler: JobHandler) -> JobHandler:
        if kind in HANDLERS:
            raise RuntimeError(f"job kind {kind.value!r} already has a handler: {HANDLERS[kind].__qualname__}")
        HANDLERS[kind] = handler
        return handler

    return register


class UnknownJob(StepFailed):
    """A job this code cannot run: its kind has no handler, or it lacks the id its kind works on."""

    def __init__(self, job: Job, why: str) -> None:
        super().__init__(f"job {job.key}: {why}; this tevo-bridge runs {', '.join(sorted(HANDLERS))}. It was "
                         "written by a newer tevo-bridge or by hand. Fix: upgrade tevo-bridge, or retry the order "
                         "(tevo-bridge orders retry ID) to queue a job this version can run", final=True)


def handler_for(job: Job) -> JobHandler:
    """The handler of the job's kind; ``UnknownJob`` if there is none."""
    handler = HANDLERS.get(job.kind)
    if handler is None:
        raise UnknownJob(job, f"unknown job kind {job.kind!r}")
    return handler


class Worker:
    def __init__(self, runtime: WorkerRuntime, processor: OrderProcessor) -> None:
        self.runtime = runtime
        self.processor = processor
        self.settings = runtime.settings.pipeline
        self.last_tick = time.monotonic()
        self.in_flight = 0
        # One idle worker woken per committed job (pipeline/doorbell.py), not every worker for every job.
        self.doorbell = Doorbell(self.settings.workers)

    async def run(self, stop: asyncio.Event) -> None:
        closer = asyncio.create_task(self._close_when(stop))
        poller = asyncio.create_task(self._poll_while_idle(stop))
        try:
            await asyncio.gather(*(self._loop(stop) for _ in range(self.settings.workers)))
        finally:
            closer.cancel()
            poller.cancel()

    async def _close_when(self, stop: asyncio.Event) -> None:
        """Stop wakes every worker, however it is set (the daemon's lifespan, a test)."""
        await stop.wait()
        self.doorbell.close()

    async def _poll_while_idle(self, stop: asyncio.Event) -> None:
        """One look at the queue per ``idle_poll`` for the whole pool, not one per idle worker.

        The poll finds what no ring announced: a job another process queued (the CLI, or a replica whose
        notification was missed). Every idle worker polling on its own made ``workers`` store transactions
        per ``idle_poll`` (8 a second on SQLite, a fifth of the idle daemon's CPU, and the ones that fell on
        an order's path took a core from it); a relay wakes one idle worker, who passes it on if it found a
        job, so a queue another process filled still drains on every free worker.
        """
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):  # read each time: PostgreSQL's LISTEN lengthens it after start
                await asyncio.wait_for(stop.wait(), getattr(self.runtime, "idle_poll", 1.0))
            if self.doorbell.idle and not stop.is_set():
                self.doorbell.relay()

    async def _loop(self, stop: asyncio.Event) -> None:
        ring = Ring.TIMEOUT
        claimed: Claim | None = None  # the next job (or when to look), asked for with the last one's completion
        while not stop.is_set():
            self._tick()
            job, due = claimed if claimed is not None else await self._claim()
            claimed = None
            if job is None:
                ring = await self._sleep(due)
                continue
            if ring is Ring.TIMEOUT:  # a claim no ring asked for (after a job, or on time) may serve a kept ring
                self.doorbell.claimed()
            elif ring is Ring.RELAY:  # more jobs may wait behind this one: the next idle worker looks
                self.doorbell.relay()
            ring = Ring.TIMEOUT
            self.in_flight += 1
            try:
                claimed = await self.run_job(job, claim_until=stop)
            except Exception as exc:  # the store could not record the outcome: the job runs again after its lease
                log.warning("worker.outcome_not_recorded", job=job.key, error=str(exc))
                await self._let_go(job)
            finally:
                self.in_flight -= 1
        if claimed is not None and claimed[0] is not None:  # taken as stop came: it runs again, as one cut short
            await self._let_go(claimed[0])

    async def _claim(self) -> Claim:
        try:
            return await self.runtime.store.claim_job_or_next_due(self.settings.lease_seconds)
        except Exception as exc:  # the store may be briefly unwritable (PostgreSQL restarting): look again soon
            log.warning("worker.claim_failed", error=str(exc))
            return None, time.time() + 1.0

    def _tick(self) -> None:
        self.last_tick = time.monotonic()

    async def _sleep(self, due: float | None) -> Ring:
        """Wait for a ring (a job committed, or the pool's idle poll: ``_poll_while_idle``) or the next job's
        due time (a retry's backoff), whichever is first."""
        return await self.doorbell.wait(None if due is None else max(0.0, due - time.time()))

    async def run_job(self, job: Job, *, claim_until: asyncio.Event | None = None) -> Claim | None:
        """Run ``job`` and record how it ended. With ``claim_until`` (the loop's stop) not yet set when the job
        completes, the completion is recorded in the one store call that also claims this worker's next job (or
        says when to look), which it returns."""
        # A renewed lease is a tick too: a worker whose every slot waits on a slow TEvo call (30 s per read,
        # retried) is alive, and /readyz must not call it stale and take the replica out of the balancer.
        keeper = LeaseKeeper(self.runtime.store, job, self.settings.lease_seconds, on_renewed=self._tick)
        with reads.recorded() as this_run:  # news older than the run's last TEvo read makes no second run
            try:
                await keeper.run(handler_for(job)(self, job))
            except LeaseLost:
                await self._let_go(keeper.job)
                return None
            except Exception as exc:  # noqa: BLE001 - every outcome is recorded below, a bug's included
                await self._settle(keeper.job, exc)
                return None
        if claim_until is not None and not claim_until.is_set():
            return await self.runtime.store.complete_job_and_claim(keeper.job, this_run.sent_at,
                                                                   self.settings.lease_seconds)
        await self.runtime.store.complete_job(keeper.job, this_run.sent_at)
        return None

    async def _let_go(self, job: Job) -> None:
        """After a lost lease: record no outcome (the job runs again from the facts, here or on another replica),
        but free its PostgreSQL lock, so that it can be taken over once its lease ends."""
        try:
            await self.runtime.store.abandon_job(job)
        except Exception as exc:  # noqa: BLE001 - its lock then goes with its connection
            log.warning("worker.abandon_failed", job=job.key, error=str(exc))

    async def _settle(self, job: Job, exc: Exception) -> None:
        """Record how a job that raised ended: waiting, retried, or sent to a person."""
        store = self.runtime.store
        if isinstance(exc, StepWaiting):
            log.info("job.waiting", job=job.key, in_seconds=exc.delay, reason=str(exc))
            await store.snooze_job(job, str(exc), exc.delay)
        elif isinstance(exc, StepFailed):
            await self._failed(job, str(exc), final=exc.final)
        elif isinstance(exc, PosTimeout | PosError):
            self.runtime.note_pos_trouble(str(exc))
            await self._failed(job, f"POS: {exc}")
        elif isinstance(exc, AuthError):
            log.error("tevo.credentials_refused", error=str(exc))
            await self._failed(job, f"TEvo refused the credentials: {exc}", delay=self.settings.backoff_cap)
        elif isinstance(exc, TevoError):
            await self._failed(job, f"TEvo: {exc}")
        else:  # a bug must not kill the worker; the order waits for review instead
            log.error("worker.job_crashed", job=job.key, exc_info=exc)
            await self._failed(job, f"{type(exc).__name__}: {exc}")

    async def _failed(self, job: Job, error: str, *, final: bool = False, delay: float | None = None) -> None:
        store = self.runtime.store
        attempts = job.attempts + 1
        out_of_attempts = attempts >= self.settings.max_attempts and not await self._hold_still_owed(job)
        if final or out_of_attempts:
            log.warning("job.needs_review", job=job.key, attempts=attempts, error=error)
            if job.order_id is not None:  # tickets back on sale before a person is told to look
                await self._give_up(job.order_id, error)
            await store.fail_job(job, error, review=True)  # the order to needs_review in the same transaction
            return
        wait = delay if delay is not None else self._backoff(attempts)
        log.info("job.retry", job=job.key, attempts=attempts, in_seconds=round(wait, 2), error=error)
        if job.order_id is not None:
            await store.update_order(job.order_id, last_error=error)
        await store.retry_job(job, error, wait)

    async def _hold_still_owed(self, job: Job) -> bool:
        """A release keeps being retried until the hold lapses in the POS by itself.

        Giving it up after ``max_attempts`` like an order would leave the tickets off sale for the
        rest of the hold's TTL, and no order in needs_review would tell a person why.
        """
        if job.kind != JobKind.RELEASE_HOLD or job.global_id is None:
            return False
        hold = await self.runtime.store.get_hold(job.global_id)
        return hold is not None and hold.expires_at > iso(datetime.now(UTC))

    async def _give_up(self, order_id: int, error: str) -> None:
        """Free what the order reserved; if the POS cannot be reached now, the reservation lapses by itself."""
        try:
            await self.processor.give_up(order_id, error)
        except Exception as exc:  # noqa: BLE001 - the order goes to a person all the same; this is a courtesy
            log.warning("job.release_failed", order_id=order_id, error=str(exc))

    def _backoff(self, attempts: int) -> float:
        """Exponential backoff with full jitter (docs/tevo-api.md §9)."""
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** (attempts - 1))
        return random.uniform(ceiling / 2, ceiling)

    # The job kinds ---------------------------------------------------------------------------------

    @handles(JobKind.ORDER)
    async def _run_order(self, job: Job) -> None:
        if job.order_id is None:
            raise UnknownJob(job, "an order job with no order id")
        await self.processor.process(job.order_id)

    @handles(JobKind.RELEASE_HOLD)
    async def _run_release(self, job: Job) -> None:
        if job.global_id is None:
            raise UnknownJob(job, "a release job with no global id")
        await self._release(job.global_id)

    @handles(JobKind.ORDER_GROUP)
    async def _run_group(self, job: Job) -> None:
        await self._list_group(job.key.removeprefix("group:"))

    async def _list_group(self, order_group_id: str) -> None:
        """A webhook named only its order group: find the group's sale orders and queue each (§6.2)."""
        async for order in self.runtime.tevo.iter_orders(order_group_id=order_group_id, type="Order"):
            event = Event("webhook", "order_group", f"group:{order_group_id}:{order.id}:{order.updated_at}",
                          f'{{"id":{order.id}}}', order_id=order.id)
            if await self.runtime.store.record_event(event):
                self.runtime.wake(1)

    async def release_now(self, global_ids: list[str]) -> None:
        """Free these holds in the POS now; their queued release jobs stay as the fallback if the POS fails."""
        for global_id in global_ids:
            try:
                await self._release(global_id)
            except Exception as exc:  # noqa: BLE001 - the queued job retries it
                log.warning("hold.release_deferred", global_id=global_id, error=str(exc))

    async def _release(self, global_id: str) -> None:
        hold = await self.runtime.store.get_hold(global_id)
        if hold is None or hold.state in (HoldState.HELD, HoldState.INVOICED):
            return  # re-held or sold since the job was queued: nothing to free
        released = await self.runtime.pos.release_hold(pos_args.pos_hold(hold))
        await self.runtime.store.audit("release_hold", global_id=global_id, reason=f"POS released: {released}")
