"""The store's methods as typed coroutines: each forwards to the store thread (``AsyncStore.call``).

Spelled out rather than looked up by name, so that a misspelt method or a wrong argument is a type
error before it is a crash on the worker; ``tests/unit/test_store_facade.py`` keeps this list in step
with the ``Store`` interface.  ``batch`` and ``close`` are absent on purpose: a batch is what the store
thread makes of calls that queue up (group commit), and ``AsyncStore.close`` also stops that thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from tevo_bridge.store.base import Store
from tevo_bridge.store.notifications import NotificationRow
from tevo_bridge.store.vocabulary import (
    AuditNote,
    AuditRow,
    Event,
    HoldRow,
    Job,
    OiInvoiceRow,
    OrderQuery,
    OrderRow,
    ResolveOutcome,
    RetryOutcome,
    StoreStats,
)
from tevo_bridge.store.watch import OrderWatch, settles

P = ParamSpec("P")
T = TypeVar("T")


class StoreFacade:
    """Every ``Store`` method the daemon awaits; ``AsyncStore`` provides ``sync`` and ``call``."""

    sync: Store
    #: Told of every write awaited here that may settle an order (store/watch.py): one place, so no writer forgets.
    watch: OrderWatch

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        raise NotImplementedError

    async def abandon_job(self, job: Job) -> None:
        await self.call(self.sync.abandon_job, job)

    async def audit(
        self,
        action: str,
        *,
        order_id: int | None = None,
        global_id: str | None = None,
        reason: str | None = None,
        details: Any = None,
    ) -> None:
        await self.call(
            self.sync.audit, action, order_id=order_id, global_id=global_id, reason=reason, details=details,
        )

    async def audit_trail(self, order_id: int) -> list[AuditRow]:
        return await self.call(self.sync.audit_trail, order_id)

    async def begin_hold(
        self,
        event: Event,
        remote_id: str,
        quantity: int,
        price: str | None,
        ticket_group_id: int | None,
        expires_at: str,
    ) -> HoldRow | None:
        return await self.call(self.sync.begin_hold, event, remote_id, quantity, price, ticket_group_id, expires_at)

    async def check_writable(self) -> None:
        await self.call(self.sync.check_writable)

    async def claim_job(self, lease_seconds: float) -> Job | None:
        return await self.call(self.sync.claim_job, lease_seconds)

    async def claim_job_or_next_due(self, lease_seconds: float) -> tuple[Job | None, float | None]:
        return await self.call(self.sync.claim_job_or_next_due, lease_seconds)

    async def claim_notifications(self, limit: int, lease_seconds: float) -> list[NotificationRow]:
        return await self.call(self.sync.claim_notifications, limit, lease_seconds)

    async def complete_job(self, job: Job, read_at: float | None = None) -> None:
        await self.call(self.sync.complete_job, job, read_at)

    async def complete_job_and_claim(self, job: Job, read_at: float | None,
                                     lease_seconds: float) -> tuple[Job | None, float | None]:
        return await self.call(self.sync.complete_job_and_claim, job, read_at, lease_seconds)

    async def count(self, table: str) -> int:
        return await self.call(self.sync.count, table)

    async def enqueue_order(self, order_id: int, source: str = "operator", delay: float = 0.0) -> None:
        await self.call(self.sync.enqueue_order, order_id, source, delay)

    async def ensure_order(self, order_id: int, source: str) -> None:
        await self.call(self.sync.ensure_order, order_id, source)

    async def expire_holds(self, now_text: str) -> list[str]:
        return await self.call(self.sync.expire_holds, now_text)

    async def fail_job(self, job: Job, error: str, *, review: bool = False) -> None:
        await self.call(self.sync.fail_job, job, error, review=review)
        if review and job.order_id is not None:
            self.watch.changed(job.order_id)

    async def fail_stale_pending_holds(self, older_than: str) -> list[str]:
        return await self.call(self.sync.fail_stale_pending_holds, older_than)

    async def finish_hold(
        self,
        global_id: str,
        state: str,
        status: int,
        response: str,
        *,
        hold_id: str | None = None,
        reason: str | None = None,
        release_in_pos: bool = False,
    ) -> HoldRow | None:
        return await self.call(
            self.sync.finish_hold, global_id, state, status, response,
            hold_id=hold_id, reason=reason, release_in_pos=release_in_pos,
        )

    async def find_orders(self, text: str, limit: int) -> list[OrderRow]:
        return await self.call(self.sync.find_orders, text, limit)

    async def finish_notification(self, claimed: NotificationRow, state: str, sent_to: list[str], next_at: float,
                                  error: str | None) -> bool:
        return await self.call(self.sync.finish_notification, claimed, state, sent_to, next_at, error)

    async def get_hold(self, global_id: str) -> HoldRow | None:
        return await self.call(self.sync.get_hold, global_id)

    async def get_oi_invoice(self, global_id: str) -> OiInvoiceRow | None:
        return await self.call(self.sync.get_oi_invoice, global_id)

    async def get_order(self, order_id: int) -> OrderRow | None:
        return await self.call(self.sync.get_order, order_id)

    async def handover_orders(self, limit: int) -> list[OrderRow]:
        return await self.call(self.sync.handover_orders, limit)

    async def hold_for_order(self, order_id: int) -> HoldRow | None:
        return await self.call(self.sync.hold_for_order, order_id)

    async def job_counts(self) -> dict[str, int]:
        return await self.call(self.sync.job_counts)

    async def job_for_order(self, order_id: int) -> dict[str, Any] | None:
        return await self.call(self.sync.job_for_order, order_id)

    async def known_order_states(self, order_ids: list[int]) -> dict[int, str]:
        return await self.call(self.sync.known_order_states, order_ids)

    async def list_holds(self, state: str, limit: int) -> list[HoldRow]:
        return await self.call(self.sync.list_holds, state, limit)

    async def list_orders(self, state: str | None = None, limit: int = 1000) -> list[OrderRow]:
        return await self.call(self.sync.list_orders, state, limit)

    async def list_notifications(self, limit: int = 100) -> list[NotificationRow]:
        return await self.call(self.sync.list_notifications, limit)

    async def make_durable(self) -> None:
        await self.call(self.sync.make_durable)

    async def mark_hold(self, global_id: str, state: str, reason: str) -> None:
        await self.call(self.sync.mark_hold, global_id, state, reason)

    async def next_job_due(self) -> float | None:
        return await self.call(self.sync.next_job_due)

    async def oldest_open_order(self) -> OrderRow | None:
        return await self.call(self.sync.oldest_open_order)

    async def order_activity(self, since: str) -> list[tuple[str, str, int]]:
        return await self.call(self.sync.order_activity, since)

    async def order_counts(self) -> dict[str, int]:
        return await self.call(self.sync.order_counts)

    async def prune(self, before: str, limit: int = 500) -> dict[str, int]:
        return await self.call(self.sync.prune, before, limit)

    async def prune_notifications(self, before: str, limit: int) -> int:
        return await self.call(self.sync.prune_notifications, before, limit)

    async def queue_release(self, global_id: str, reason: str) -> None:
        await self.call(self.sync.queue_release, global_id, reason)

    async def record_event(self, event: Event, source_state: str = "new") -> bool:
        return await self.call(self.sync.record_event, event, source_state)

    async def record_from_audit(self, grace: float, limit: int) -> int:
        return await self.call(self.sync.record_from_audit, grace, limit)

    async def record_notification(self, key: str, kind: str, payload: dict[str, Any]) -> bool:
        return await self.call(self.sync.record_notification, key, kind, payload)

    async def record_oi_invoice(self, event: Event) -> tuple[OiInvoiceRow | None, HoldRow | None]:
        return await self.call(self.sync.record_oi_invoice, event)

    async def refuse_oi_invoice(self, global_id: str, status: int, response: str, reason: str) -> None:
        await self.call(self.sync.refuse_oi_invoice, global_id, status, response, reason)

    async def release_hold(self, event: Event) -> HoldRow | None:
        return await self.call(self.sync.release_hold, event)

    async def renew_job(self, job: Job, lease_seconds: float) -> Job | None:
        return await self.call(self.sync.renew_job, job, lease_seconds)

    async def requeue_running_jobs(self) -> int:
        return await self.call(self.sync.requeue_running_jobs)

    async def resolve_order(self, order_id: int, note: str, by: str) -> ResolveOutcome:
        return await self.call(self.sync.resolve_order, order_id, note, by)

    async def retry_job(self, job: Job, error: str, delay: float) -> None:
        await self.call(self.sync.retry_job, job, error, delay)

    async def revoke_session(self, sid: str, until: float) -> None:
        await self.call(self.sync.revoke_session, sid, until)

    async def retry_order(
        self,
        order_id: int,
        reason: str = "operator retry",
        *,
        redeliver: bool = False,
    ) -> RetryOutcome:
        return await self.call(self.sync.retry_order, order_id, reason, redeliver=redeliver)

    async def search_orders(self, query: OrderQuery, limit: int) -> list[OrderRow]:
        return await self.call(self.sync.search_orders, query, limit)

    async def set_oi_invoice_response(self, global_id: str, status: int, response: str) -> None:
        await self.call(self.sync.set_oi_invoice_response, global_id, status, response)

    async def session_revoked(self, sid: str) -> bool:
        return await self.call(self.sync.session_revoked, sid)

    async def snooze_job(self, job: Job, note: str, delay: float) -> None:
        await self.call(self.sync.snooze_job, job, note, delay)

    async def stats(self) -> StoreStats:
        return await self.call(self.sync.stats)

    async def try_lead(self, name: str, holder: str, lease_seconds: float) -> bool:
        return await self.call(self.sync.try_lead, name, holder, lease_seconds)

    async def update_order(
        self,
        order_id: int,
        *,
        state: str | None = None,
        reason: str | None = None,
        notes: Sequence[AuditNote] = (),
        **fields: Any,
    ) -> None:
        await self.call(self.sync.update_order, order_id, state=state, reason=reason, notes=notes, **fields)
        if settles(state, fields):
            self.watch.changed(order_id)
