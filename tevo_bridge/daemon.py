"""Wires the parts together: store, POS host, TEvo client, intake app, worker, poller, hold sweeper.

Everything long-lived starts and stops in the ASGI lifespan, so SIGTERM (handled
by uvicorn) stops intake first, then drains the background tasks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tevo_bridge import cpus, eventloop
from tevo_bridge.admin_guard import guarded
from tevo_bridge.clock import iso
from tevo_bridge.config import Settings
from tevo_bridge.fulfillment import make_fulfil, make_precheck
from tevo_bridge.intake.app import WORKER_STALE_SECONDS, create_admin_app, create_app, with_body_limit
from tevo_bridge.intake.poller import run_poller
from tevo_bridge.intake.refusals import RefusalLog
from tevo_bridge.listeners import make_listeners, serve_all
from tevo_bridge.log import configure_logging, get_logger
from tevo_bridge.memory import return_freed_memory, skip_pydantic_v1_checks
from tevo_bridge.pipeline.processor import Fulfil, OrderProcessor, Precheck
from tevo_bridge.pipeline.worker import Worker
from tevo_bridge.store import AsyncStore
from tevo_bridge.store.backends import open_async_store
from tevo_bridge.store.retention import run_retention
from tevo_bridge.tevo.client import TevoClient

if TYPE_CHECKING:  # annotations only; PluginHost itself is imported where the plugin is loaded (build_runtime)
    from fastapi import FastAPI
    from starlette.types import ASGIApp

    from tevo_bridge.intake.http import BodyLimit
    from tevo_bridge.pos.errors import PosTimeout
    from tevo_bridge.pos.host import PluginHost

log = get_logger(__name__)

POS_TROUBLE_WINDOW = 60.0
SHUTDOWN_GRACE = 8.0


class Runtime:
    """What the routes and background tasks share."""

    def __init__(self, settings: Settings, store: AsyncStore, pos_host: PluginHost, tevo: TevoClient,
                 fulfil: Fulfil | None = None, precheck: Precheck | None = None) -> None:
        self.settings = settings
        self.store = store
        self.pos = pos_host
        self.tevo = tevo
        self.processor = OrderProcessor(store, tevo, pos_host, settings, fulfil, precheck)
        self.worker = Worker(self, self.processor)
        self.refusals = RefusalLog()  # refused requests, logged for the seller without flooding the disk
        self._pos_trouble: tuple[float, str] | None = None
        # Holds TEvo was told "no" for while the POS was still placing them, and the release each one queued.
        self._late_holds: set[concurrent.futures.Future[Any]] = set()
        self._late_releases: set[asyncio.Task[None]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop serving the app, once started
        # Who this process is to the other replicas of a PostgreSQL store (the poller's lease names it).
        self.replica_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Idle workers look at the queue this often; on PostgreSQL, NOTIFY wakes them and this is only the backstop.
        self.idle_poll = 1.0

    def wake(self, jobs: int | None = None) -> None:
        """Called after a commit that queued jobs: a worker starts on each now, not at its next tick.

        ``jobs``: how many were queued, when the caller knows (one idle worker woken for each); None
        when it may be several (a relay: the woken worker passes it on while it finds jobs).
        """
        if jobs is None:
            self.worker.doorbell.relay()
        else:
            self.worker.doorbell.ring(jobs)

    def note_pos_trouble(self, message: str) -> None:
        self._pos_trouble = (time.monotonic(), message)

    def pos_trouble(self) -> str | None:
        if self._pos_trouble and time.monotonic() - self._pos_trouble[0] < POS_TROUBLE_WINDOW:
            return self._pos_trouble[1]
        return None

    def release_when_done(self, timeout: PosTimeout, global_id: str) -> None:
        """A hold that timed out may still succeed in the POS: release it the moment it does."""
        loop = asyncio.get_running_loop()
        self.note_pos_trouble(str(timeout))

        def done(future: Any) -> None:
            self._late_holds.discard(future)
            if future.cancelled() or future.exception() is not None:
                return
            if getattr(future.result(), "held", False):
                try:
                    loop.call_soon_threadsafe(self._release_late, global_id)
                except RuntimeError:  # the daemon stopped meanwhile; the POS hold lapses at its expires_at
                    log.warning("oi.late_hold_after_shutdown", global_id=global_id)

        future = getattr(timeout, "future", None)
        if future is not None:
            self._late_holds.add(future)
            future.add_done_callback(done)

    def _release_late(self, global_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._requeue_release(global_id))
        self._late_releases.add(task)
        task.add_done_callback(self._late_releases.discard)

    async def settle_late_holds(self, timeout: float) -> None:
        """At shutdown, with the POS and the store still open: give holds still being placed after their timeout
        up to ``timeout`` seconds to land, and queue the release of those that do.

        Otherwise a restart right after a timed-out hold (an operator's, or systemd's) let the hold land in the
        POS after this process could no longer queue its release, and the tickets stayed off sale until the
        hold's TTL (found by the reliability suite's state machine)."""
        landing = [asyncio.wrap_future(future) for future in list(self._late_holds)]
        if landing and timeout > 0:
            await asyncio.wait(landing, timeout=timeout)
        await asyncio.sleep(0)  # the landed holds' call_soon_threadsafe(_release_late) runs before this returns
        if self._late_releases:
            await asyncio.wait(set(self._late_releases), timeout=max(timeout, 1.0))

    async def _requeue_release(self, global_id: str) -> None:
        await self.store.queue_release(global_id, "POS hold finished after the budget: releasing it")
        self.wake(1)

    async def start(self, stop: asyncio.Event) -> list[asyncio.Task[Any]]:
        self.loop = asyncio.get_running_loop()
        # SQLite: no other process can be mid-hold, so every pending hold was interrupted. PostgreSQL:
        # another replica may be holding right now, so only holds older than the sweeper's limit count.
        shared = self.settings.store.postgres_url is not None
        interrupted = await self.store.fail_stale_pending_holds(iso(datetime.now(UTC) - (
            self._stale_pending_after() if shared else timedelta(0))))
        # Before any order job runs: a hold the POS took while the last process died must not make
        # an order for the same tickets look unsupplied (their release jobs would race the orders).
        await self.worker.release_now(interrupted)
        resumed = await self.store.requeue_running_jobs()
        if resumed:
            log.warning("daemon.resumed_interrupted_jobs", jobs=resumed)
        if shared:
            self._listen_for_jobs(stop)
        tasks = [asyncio.create_task(self.worker.run(stop), name="worker"),
                 asyncio.create_task(self._sweep_holds(stop), name="hold-sweeper")]
        if self.settings.poller.enabled:
            tasks.append(asyncio.create_task(run_poller(self, stop), name="poller"))
        if self.settings.notify.urls:
            from tevo_bridge.notify.notifier import Notifier

            tasks.append(asyncio.create_task(Notifier(self.settings, self.store, self.worker).run(stop), name="notify"))
        if self.settings.store.retention_days > 0:
            tasks.append(asyncio.create_task(run_retention(self.store, self.settings.store.retention_days, stop),
                                             name="retention"))
        return tasks

    def _listen_for_jobs(self, stop: asyncio.Event) -> None:
        """Wake this replica's workers when any replica commits a job (PostgreSQL ``LISTEN``), on a thread."""
        from tevo_bridge.store.postgres import listen_for_jobs

        loop, halt = asyncio.get_running_loop(), threading.Event()
        url = self.settings.store.postgres_url
        assert url is not None

        def wake() -> None:  # one notification may stand for several jobs (one transaction's, a reconnect's)
            with contextlib.suppress(RuntimeError):  # the loop closed: the daemon is stopping
                loop.call_soon_threadsafe(self.wake)

        settled = self.store.watch.from_thread(loop)  # another replica's write may have settled an order
        threading.Thread(target=listen_for_jobs, args=(url, wake, halt), kwargs={"on_settled": settled},
                         name="store-listen", daemon=True).start()
        loop.create_task(_set_when(stop, halt))
        # NOTIFY wakes the workers; the poll is the backstop, and an idle pool's only tick: a third of what
        # /readyz allows, so an idle replica is never called stale (30 s, its old value, sat on that line).
        self.idle_poll = WORKER_STALE_SECONDS / 3

    def _stale_pending_after(self) -> timedelta:
        """A hold pending this long was interrupted: its request's budget is long past."""
        return timedelta(seconds=self.settings.server.hold_budget * 4 + 5)

    async def _sweep_holds(self, stop: asyncio.Event) -> None:
        every = max(0.5, min(30.0, self.settings.server.hold_ttl / 4))
        while not stop.is_set():
            try:
                now = datetime.now(UTC)
                expired = await self.store.expire_holds(iso(now))
                stale = await self.store.fail_stale_pending_holds(iso(now - self._stale_pending_after()))
                if expired or stale:
                    log.info("holds.swept", expired=len(expired), interrupted=len(stale))
                    self.wake()
            except Exception as exc:
                log.warning("holds.sweep_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)


async def _set_when(stop: asyncio.Event, halt: threading.Event) -> None:
    await stop.wait()
    halt.set()


def build_runtime(settings: Settings, pos_host: PluginHost | None = None, fulfil: Fulfil | None = None) -> Runtime:
    from tevo_bridge.pos.host import PluginHost, pool_size_for

    store = open_async_store(settings)  # SQLite: one daemon per store (DaemonLock); PostgreSQL: any number
    if pos_host is None:
        pos_host = PluginHost.load(settings.pos.plugin, settings.plugins.get(settings.pos.plugin, {}),
                                   settings.pos.budgets, base_dir=settings.config_dir,
                                   pool_size=pool_size_for(settings.pipeline.workers))
    tevo = TevoClient.from_settings(settings.tevo)
    if fulfil is None:
        fulfil = make_fulfil(settings, tevo, pos_host, store)
    return Runtime(settings, store, pos_host, tevo, fulfil, make_precheck(settings, pos_host))


def build_app(runtime: Runtime) -> BodyLimit:
    """The ASGI app with the runtime's background tasks bound to its lifespan."""
    return build_apps(runtime)[0]


def build_apps(runtime: Runtime) -> tuple[BodyLimit, ASGIApp | None]:
    """The public app, whose lifespan runs the runtime's background tasks, and the admin app (or None:
    ``[server] admin_port`` unset keeps metrics and the OpenAPI document on the public one)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = await runtime.start(stop)
        log.info("daemon.started", plugin=runtime.settings.pos.plugin, tevo=runtime.settings.tevo.base_url)
        try:
            yield
        finally:
            stop.set()
            runtime.wake()
            stopping = time.monotonic()
            done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
            for task in pending:  # a job cut short re-runs after its lease: safe by design
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await runtime.settle_late_holds(SHUTDOWN_GRACE - (time.monotonic() - stopping))
            await runtime.tevo.aclose()
            runtime.pos.close()
            runtime.store.close()
            log.info("daemon.stopped")

    admin_elsewhere = runtime.settings.server.admin_port is not None
    public = create_app(runtime, lifespan, admin_elsewhere=admin_elsewhere)
    server = runtime.settings.server
    admin = guarded(create_admin_app(runtime, public), server.admin_host, server.admin_hosts) \
        if admin_elsewhere else None
    return with_body_limit(public, runtime.settings.server.max_body_bytes, runtime.refusals), admin


def serve(settings: Settings) -> None:
    """The daemon in the foreground; ``service.ListenError`` (nothing done yet) if its port cannot be had."""
    from tevo_bridge.registration import log_registration
    from tevo_bridge.service import bind_listener

    configure_logging(settings.log.level, settings.log.format, settings.secrets())
    server = settings.server
    # This thread runs the event loop; threads it starts stay on its CPU unless they roam (tevo_bridge/cpus.py).
    log.info("daemon.loop_cpu", loop_cpu=server.loop_cpu, cpu=cpus.keep_loop_to(server.loop_cpu))
    # Before the store, the plugin or TEvo: a port that is taken must stop us with nothing done.
    public = bind_listener(server.host, server.port)
    try:
        admin = bind_listener(server.admin_host, server.admin_port) if server.admin_port is not None else None
    except BaseException:
        public.close()
        raise
    try:
        runtime = build_runtime(settings)
    except BaseException:
        for sock in (public, admin):
            if sock is not None:
                sock.close()
        raise
    log_registration(settings.server)
    skip_pydantic_v1_checks()  # before the apps add their routes
    listeners = make_listeners(settings, *build_apps(runtime), sockets=(public, admin))
    settle_gc()
    return_freed_memory()
    eventloop.run(serve_all(listeners), settings.server.event_loop)


def settle_gc() -> None:
    """Exempt everything built at start-up (modules, FastAPI, pydantic schemas) from the cycle collector.

    Otherwise every full collection walks those few hundred thousand objects: measured at
    about 60 ms, stalling every request in flight, which alone set the hold latency's p99.
    Objects made later are collected as usual.
    """
    gc.collect()
    gc.freeze()
