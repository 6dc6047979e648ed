"""The Order Integration invoice call waits for its order to settle without asking the store again and again.

The write that settles the order wakes the call (store/watch.py): it reads once at the start and once when
woken; a write this process did not make (a second store object on the same SQLite file, as the CLI's) is
found by the fallback read; with no write the call answers at its deadline with the order as it stands.
Reads are counted on a real store; time is only a liveness bound.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from tevo_bridge.intake import order_integration
from tevo_bridge.intake.order_integration import _settled_order
from tevo_bridge.store import AsyncStore, OrderRow, SqliteStore
from tevo_bridge.store.pg_aio import PostgresAsyncStore
from tevo_bridge.store.postgres import PostgresStore, listen_for_jobs

ORDER = 402117
LIVENESS = 20.0


class CountingStore(AsyncStore):
    """A real store thread over a real SQLite file; its ``get_order`` calls are counted."""

    reads = 0

    async def get_order(self, order_id: int) -> OrderRow | None:
        self.reads += 1
        return await super().get_order(order_id)


@pytest.fixture
def store(tmp_path):
    sync = SqliteStore(tmp_path / "state.sqlite3")
    sync.ensure_order(ORDER, "order_integration")
    counting = CountingStore(sync)
    yield counting
    counting.close()


async def _after_reads(store: CountingStore, reads: int) -> None:
    while store.reads < reads:
        await asyncio.sleep(0.005)


async def _wait_and(store: CountingStore, deadline_in: float, write) -> OrderRow | None:
    async def writer() -> None:
        await _after_reads(store, 1)
        await asyncio.sleep(0.05)  # the call is waiting now, not reading
        await write()

    task = asyncio.create_task(writer())
    try:  # liveness only: with an hour's deadline and fallback, an answer within LIVENESS s means a wake-up
        return await asyncio.wait_for(
            _settled_order(SimpleNamespace(store=store), ORDER, time.monotonic() + deadline_in), LIVENESS)
    finally:
        await task


def test_the_invoice_write_wakes_the_call_which_reads_once_more(store, monkeypatch):
    monkeypatch.setattr(order_integration, "SETTLED_FALLBACK", 3600.0)  # only a wake-up answers in time

    async def invoice() -> None:
        await store.update_order(ORDER, state="checking")  # not settled: wakes nobody, costs no read
        await store.update_order(ORDER, state="fulfilling", invoice_id="INV-1")

    row = asyncio.run(_wait_and(store, 3600, invoice))
    assert row is not None and row.invoice_id == "INV-1"
    assert store.reads == 2  # the start, and once woken


def test_handing_the_order_to_a_person_wakes_the_call(store, monkeypatch):
    monkeypatch.setattr(order_integration, "SETTLED_FALLBACK", 3600.0)

    async def review() -> None:
        await store.enqueue_order(ORDER, "order_integration")
        job = await store.claim_job(60)
        assert job is not None and job.order_id == ORDER
        await store.fail_job(job, "TEvo has no order 402117", review=True)

    row = asyncio.run(_wait_and(store, 3600, review))
    assert row is not None and row.state == "needs_review"
    assert store.reads == 2


def test_a_write_by_another_process_is_found_by_the_fallback_read(store, tmp_path, monkeypatch):
    monkeypatch.setattr(order_integration, "SETTLED_FALLBACK", 0.05)
    other = SqliteStore(tmp_path / "state.sqlite3")  # as the CLI would: a store of its own on the same file

    async def elsewhere() -> None:
        await asyncio.to_thread(other.update_order, ORDER, state="fulfilling", invoice_id="INV-2")

    try:
        row = asyncio.run(_wait_and(store, 3600, elsewhere))
    finally:
        other.close()
    assert row is not None and row.invoice_id == "INV-2"
    assert store.reads >= 2


def test_with_no_write_the_call_answers_at_its_deadline_with_the_order_as_it_stands(store):
    started = time.monotonic()
    row = asyncio.run(_settled_order(SimpleNamespace(store=store), ORDER, started + 0.6))
    assert row is not None and row.invoice_id is None and row.state == "new"
    assert time.monotonic() - started >= 0.6
    assert 2 <= store.reads <= 3, store.reads  # the start, the fallback's (0.5 s), the deadline's; every 20 ms was 30


def test_an_order_settled_before_the_call_is_read_once(store):
    async def settled_first() -> OrderRow | None:
        await store.update_order(ORDER, state="fulfilling", invoice_id="INV-3")
        return await _settled_order(SimpleNamespace(store=store), ORDER, time.monotonic() + 30)

    row = asyncio.run(settled_first())
    assert row is not None and row.invoice_id == "INV-3" and store.reads == 1


def test_a_wake_up_for_another_order_costs_nothing(store, monkeypatch):
    monkeypatch.setattr(order_integration, "SETTLED_FALLBACK", 3600.0)
    store.sync.ensure_order(402118, "order_integration")

    async def both() -> None:
        await store.update_order(402118, state="fulfilling", invoice_id="INV-4")
        await store.update_order(ORDER, state="fulfilling", invoice_id="INV-5")

    row = asyncio.run(_wait_and(store, 3600, both))
    assert row is not None and row.invoice_id == "INV-5" and store.reads == 2


class CountingPgStore(PostgresAsyncStore):
    reads = 0

    async def get_order(self, order_id: int) -> OrderRow | None:
        self.reads += 1
        return await super().get_order(order_id)


def test_on_postgresql_a_settle_by_another_replica_wakes_the_call_through_the_listener(pg_url, monkeypatch):
    monkeypatch.setattr(order_integration, "SETTLED_FALLBACK", 3600.0)  # only a wake-up answers in time
    here = CountingPgStore(PostgresStore(pg_url), threads=2)
    other = PostgresStore(pg_url)  # another replica: its writes never pass through ``here``
    other.ensure_order(ORDER, "order_integration")
    stop = threading.Event()

    async def wait_while_the_other_invoices() -> OrderRow | None:
        heard = here.watch.from_thread(asyncio.get_running_loop())  # as the daemon wires its listener
        connected = threading.Event()

        def on_settled(order_id: int | None) -> None:
            heard(order_id)  # first: the connect's "any order" is then run before this test's wait goes on
            connected.set()

        listener = threading.Thread(target=listen_for_jobs, args=(pg_url, lambda: None, stop),
                                    kwargs={"on_settled": on_settled}, daemon=True)
        listener.start()
        assert await asyncio.to_thread(connected.wait, 10)

        async def invoice_elsewhere() -> None:
            await _after_reads(here, 1)
            await asyncio.sleep(0.05)
            await asyncio.to_thread(other.update_order, ORDER, state="fulfilling", invoice_id="INV-PG")

        task = asyncio.create_task(invoice_elsewhere())
        try:
            return await asyncio.wait_for(
                _settled_order(SimpleNamespace(store=here), ORDER, time.monotonic() + 3600), LIVENESS)
        finally:
            await task

    try:
        row = asyncio.run(wait_while_the_other_invoices())
    finally:
        stop.set()
        other.close()
        here.close()
    assert row is not None and row.invoice_id == "INV-PG"
    assert here.reads == 2  # the start, and once woken by the other replica's NOTIFY
