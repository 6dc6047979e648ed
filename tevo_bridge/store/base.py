"""The store's interface: everything the daemon asks of durable state.

``SqliteStore`` and ``PostgresStore`` implement it (each method one transaction, every
inbound event committed with its job).  Nothing outside ``store/`` writes SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from tevo_bridge.store.notifications import NotificationRow
from tevo_bridge.store.vocabulary import (
    AuditNote,
    AuditRow,
    Backend,
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


class Store(Protocol):
    #: Which database it is on: says whose numbering a schema version is in (the dashboard, the CLI).
    backend: Backend

    def abandon_job(self, job: Job) -> None:
        """Give the job up with no outcome recorded (the store failed): it runs again once its lease ends."""

    def audit(
        self,
        action: str,
        *,
        order_id: int | None = None,
        global_id: str | None = None,
        reason: str | None = None,
        details: Any = None,
    ) -> None:
        ...

    def audit_trail(self, order_id: int) -> list[AuditRow]:
        ...

    def batch(self, *, savepoints: bool = True, durable: bool = True) -> AbstractContextManager[None]:
        """Group commit: every method called inside runs in one transaction, one fsync at the end.

        ``savepoints=False``: calls run plainly, and if one fails the batch raises ``BatchTainted`` and
        commits nothing (``AsyncStore`` then runs it again with savepoints). ``durable=False``: no fsync at
        the end; the caller calls ``make_durable`` before anyone hears of the batch."""

    def make_durable(self) -> None:
        """Every commit so far survives a power loss once this returns (raises ``StoreNotDurable`` if not)."""

    def begin_hold(
        self,
        event: Event,
        remote_id: str,
        quantity: int,
        price: str | None,
        ticket_group_id: int | None,
        expires_at: str,
    ) -> HoldRow | None:
        """Record a new hold as pending before the POS is asked; the existing row if the global id is known
        (expired first if its TTL has passed, and the repeat audited if the hold is closed)."""

    def check_writable(self) -> None:
        """Raise if a write transaction cannot start (read-only file, full disk, locked)."""

    def claim_job(self, lease_seconds: float) -> Job | None:
        """Take the most overdue job, or one whose worker died (lease expired)."""

    def claim_job_or_next_due(self, lease_seconds: float) -> tuple[Job | None, float | None]:
        """``claim_job``; when there is none to take, also when the next one is due (``next_job_due``)."""

    def claim_notifications(self, limit: int, lease_seconds: float) -> list[NotificationRow]:
        """Take up to ``limit`` due notifications for ``lease_seconds``; two senders never hold the same one."""

    def close(self) -> None:
        ...

    def complete_job(self, job: Job, read_at: float | None = None) -> None:
        """Done, or queued again if asked for while it ran and not before ``read_at`` (the run's last TEvo read)."""
        ...

    def complete_job_and_claim(self, job: Job, read_at: float | None,
                               lease_seconds: float) -> tuple[Job | None, float | None]:
        """``complete_job``, then ``claim_job_or_next_due``: one call for a worker that finished a job."""
        ...

    def count(self, table: str) -> int:
        ...

    def enqueue_order(self, order_id: int, source: str = "operator", delay: float = 0.0) -> None:
        ...

    def ensure_order(self, order_id: int, source: str) -> None:
        ...

    def expire_holds(self, now_text: str) -> list[str]:
        """Holds past their TTL without an invoice: mark expired and queue their POS release."""

    def fail_job(self, job: Job, error: str, *, review: bool = False) -> None:
        """The job stops for good; with ``review``, its order goes to ``needs_review`` in the same transaction."""

    def fail_stale_pending_holds(self, older_than: str) -> list[str]:
        """Holds left pending by a crash mid-call: fail closed and release whatever the POS may have held."""

    def finish_hold(
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
        """Store the POS's outcome and the answer; the hold as it now stands (TEvo may have released it)."""

    def find_orders(self, text: str, limit: int) -> list[OrderRow]:
        """Orders whose TEvo id or POS invoice id is ``text``, or whose buyer's name or e-mail contains it."""

    def finish_notification(self, claimed: NotificationRow, state: str, sent_to: list[str], next_at: float,
                            error: str | None) -> bool:
        """What a claim achieved (``pending`` again at ``next_at``, ``sent`` or ``failed``); False if it had lapsed."""

    def get_hold(self, global_id: str) -> HoldRow | None:
        ...

    def get_oi_invoice(self, global_id: str) -> OiInvoiceRow | None:
        ...

    def get_order(self, order_id: int) -> OrderRow | None:
        ...

    def handover_orders(self, limit: int) -> list[OrderRow]:
        """Orders with an airbill saved or pickup details sent that TEvo has not yet completed, newest first."""

    def hold_for_order(self, order_id: int) -> HoldRow | None:
        ...

    def job_counts(self) -> dict[str, int]:
        ...

    def job_for_order(self, order_id: int) -> dict[str, Any] | None:
        ...

    def known_order_states(self, order_ids: list[int]) -> dict[int, str]:
        ...

    def list_orders(self, state: str | None = None, limit: int = 1000) -> list[OrderRow]:
        ...

    def list_holds(self, state: str, limit: int) -> list[HoldRow]:
        """The holds in ``state``, most recently changed first (the dashboard)."""

    def list_notifications(self, limit: int = 100) -> list[NotificationRow]:
        """The latest notifications, newest first."""

    def mark_hold(self, global_id: str, state: str, reason: str) -> None:
        ...

    def next_job_due(self) -> float | None:
        ...

    def oldest_open_order(self) -> OrderRow | None:
        """The unfinished order first seen longest ago (the dashboard)."""

    def order_activity(self, since: str) -> list[tuple[str, str, int]]:
        """(UTC hour, outcome, orders) since ``since``: reached invoicing, rejected, needs_review (the dashboard)."""

    def order_counts(self) -> dict[str, int]:
        ...

    def prune(self, before: str, limit: int = 500) -> dict[str, int]:
        """Delete up to ``limit`` old inbox and audit rows each that no open order or hold needs (retention)."""

    def prune_notifications(self, before: str, limit: int) -> int:
        """Delete up to ``limit`` sent or failed notifications last changed before ``before``."""

    def queue_release(self, global_id: str, reason: str) -> None:
        ...

    def record_event(self, event: Event, source_state: str = "new") -> bool:
        """Record an event and queue its order job in one transaction.  False for a duplicate."""

    def record_from_audit(self, grace: float, limit: int) -> int:
        """Record a notification for each transition to tell of (the outbox, read from the audit trail)."""

    def record_notification(self, key: str, kind: str, payload: dict[str, Any]) -> bool:
        """Record an event under its unique ``key``; False if it was recorded before."""

    def record_oi_invoice(self, event: Event) -> tuple[OiInvoiceRow | None, HoldRow | None]:
        """Record TEvo's invoice call and queue the order; the earlier row for this global id if there is one."""

    def refuse_oi_invoice(self, global_id: str, status: int, response: str, reason: str) -> None:
        """TEvo has no order for this invoice call: store that answer and review reason, untie the hold."""

    def release_hold(self, event: Event) -> HoldRow | None:
        """TEvo's release: a held hold becomes released and a job frees it in the POS.  Returns the hold as it was."""

    def renew_job(self, job: Job, lease_seconds: float) -> Job | None:
        """Extend a running job's lease from now: the claim as it now stands, or None if it is no longer this one."""

    def requeue_running_jobs(self) -> int:
        """At start-up no job can be running (one daemon per store): what was, died with the last process."""

    def resolve_order(self, order_id: int, note: str, by: str) -> ResolveOutcome:
        """A person settled a ``needs_review`` order by hand: ``resolved``, with the note and who in the audit."""

    def retry_job(self, job: Job, error: str, delay: float) -> None:
        ...

    def retry_order(self, order_id: int, reason: str = "operator retry", *, redeliver: bool = False) -> RetryOutcome:
        """Send an order back through the pipeline, which continues from the facts, not from its state."""

    def revoke_session(self, sid: str, until: float) -> None:
        """Remember a dashboard logout until ``until`` (epoch seconds), when its cookie would expire anyway: in the
        store, so it survives a restart and reaches every replica."""

    def search_orders(self, query: OrderQuery, limit: int) -> list[OrderRow]:
        """Orders matching ``query``, newest id first (the dashboard's search, paged by ``before_id``)."""

    def session_revoked(self, sid: str) -> bool:
        """Whether a dashboard session was logged out (``revoke_session``) and its cookie has not yet expired."""

    def snooze_job(self, job: Job, note: str, delay: float) -> None:
        """Look again after ``delay``: not a failure, so no attempt is counted (news that came meanwhile runs now)."""

    def set_oi_invoice_response(self, global_id: str, status: int, response: str) -> None:
        ...

    def stats(self) -> StoreStats:
        """Counts by state and the oldest open order, for /metrics."""
        ...

    def try_lead(self, name: str, holder: str, lease_seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``holder``: the one replica that runs a singleton task (the poller)."""

    def update_order(
        self,
        order_id: int,
        *,
        state: str | None = None,
        reason: str | None = None,
        notes: Sequence[AuditNote] = (),
        **fields: Any,
    ) -> None:
        """Change an order's fields and, when the state moves, write the transition to the audit log; ``notes``
        (audit rows of the same moment, ``AuditNote``) go first, in the same transaction."""
