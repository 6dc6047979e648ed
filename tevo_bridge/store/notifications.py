"""The notifications outbox: every event a person is told about, recorded once and sent until it is sent.

*Why read transitions from the audit trail rather than write a notification beside each state change:*
every state change already writes its audit row in the same transaction (``_update_order``, ``fail_job``,
``resolve_order``...), so an event derived from that row can be lost only with the change itself; and the
pipeline's code, which other work changes often, needs no notification call that a new path could forget.
``record_from_audit`` reads the transitions to ``needs_review`` and to ``canceled`` (of an invoiced order)
that no notification names yet (``audit_id`` is unique), from a cursor less ``grace`` seconds: a
transaction that wrote its row's time before a later one but committed after it (PostgreSQL replicas) is
still read, and the unique key makes reading it twice harmless. Two replicas reading at once insert the
same keys; one insert wins (so on PostgreSQL it runs at READ COMMITTED: ``PostgresStore._READ_COMMITTED``). See docs/architecture.md, "Notifications".

Sending is claimed like a job: a claim moves due rows to ``sending`` with ``next_at`` as the claim's end, in
one transaction (SERIALIZABLE on PostgreSQL, one writer on SQLite), so two replicas never hold the same row;
a sender that died lets its claim lapse and the rows are claimed again.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tevo_bridge.clock import iso, now_iso

#: ``notifications.state``: pending (due at ``next_at``), sending (claimed until ``next_at``), sent, failed.
NOTIFICATION_STATES = ("pending", "sending", "sent", "failed")

#: The transitions a person is told about, read from the audit trail.
TOLD_STATES = ("needs_review", "canceled")


@dataclass(frozen=True)
class NotificationRow:
    id: int
    key: str
    kind: str
    order_id: int | None
    payload: str
    state: str
    sent_to: str
    attempts: int
    next_at: float
    last_error: str | None
    created_at: str

    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload)
        return loaded

    def destinations_done(self) -> list[str]:
        done: list[str] = json.loads(self.sent_to)
        return done


_COLUMNS = "id, key, kind, order_id, payload, state, sent_to, attempts, next_at, last_error, created_at"


class NotificationStatements:
    """Mixed into ``SqlStore``: the outbox's statements, portable between SQLite and PostgreSQL."""

    @property
    def _lock(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    @property
    def _conn(self) -> Any:
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def record_from_audit(self, grace: float, limit: int) -> int:
        """Record a notification for each transition to tell of, up to ``limit``; how many were new.

        The first call on a store only sets the cursor: what happened before notifications were turned on
        is not announced (the daily summary and the dashboard list it).
        """
        now = now_iso()
        with self._tx() as conn:
            cursor = conn.execute("SELECT at FROM notify_cursor WHERE name = 'audit'").fetchone()
            if cursor is None:
                conn.execute("INSERT INTO notify_cursor (name, at) VALUES ('audit', ?) ON CONFLICT (name) DO NOTHING",
                             (now,))
                return 0
            since = iso(datetime.fromisoformat(cursor[0]) - timedelta(seconds=grace), "milliseconds")
            rows = conn.execute(
                "SELECT a.id, a.order_id, a.from_state, a.to_state, a.reason, a.at, o.invoice_id FROM audit a "
                "JOIN orders o ON o.id = a.order_id "
                "WHERE a.to_state IN ('needs_review', 'canceled') AND a.at >= ? AND a.action = 'transition' "
                "AND (a.to_state = 'needs_review' OR o.invoice_id IS NOT NULL) "
                "AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.audit_id = a.id) "
                "ORDER BY a.at, a.id LIMIT ?", (since, limit)).fetchall()
            recorded = sum(self._insert_transition(conn, dict(row), now) for row in rows)
            if len(rows) < limit:  # read to the end: later reads start here (less the grace)
                conn.execute("UPDATE notify_cursor SET at = ? WHERE name = 'audit' AND at < ?", (now, now))
        return recorded

    def _insert_transition(self, conn: Any, row: dict[str, Any], now: str) -> int:
        kind = "needs_review" if row["to_state"] == "needs_review" else "canceled_invoiced"
        payload = {"order_id": row["order_id"], "from_state": row["from_state"], "reason": row["reason"],
                   "at": row["at"], "invoice_id": row["invoice_id"]}
        return self._insert(conn, f"{kind}:{row['order_id']}:{row['id']}", kind, payload, now,
                            order_id=row["order_id"], audit_id=row["id"])

    def _insert(self, conn: Any, key: str, kind: str, payload: dict[str, Any], now: str, *,
                order_id: int | None = None, audit_id: int | None = None) -> int:
        inserted: int = conn.execute(
            "INSERT INTO notifications (key, kind, audit_id, order_id, payload, state, next_at, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING",
            (key, kind, audit_id, order_id, json.dumps(payload, separators=(",", ":")), time.time(), now, now),
        ).rowcount
        return inserted

    def record_notification(self, key: str, kind: str, payload: dict[str, Any]) -> bool:
        """Record an event the notifier itself noticed (an outage, a day's summary); False if ``key`` is known."""
        with self._tx() as conn:
            return self._insert(conn, key, kind, payload, now_iso()) == 1

    def claim_notifications(self, limit: int, lease_seconds: float) -> list[NotificationRow]:
        """Take up to ``limit`` due notifications (oldest first) for ``lease_seconds``; none is held twice."""
        now = time.time()
        with self._tx() as conn:
            rows = conn.execute(
                f"UPDATE notifications SET state = 'sending', next_at = ?, attempts = attempts + 1, updated_at = ? "
                f"WHERE id IN (SELECT id FROM notifications WHERE state IN ('pending', 'sending') AND next_at <= ? "
                f"ORDER BY id LIMIT ?) AND state IN ('pending', 'sending') AND next_at <= ? RETURNING {_COLUMNS}",
                (now + lease_seconds, now_iso(), now, limit, now)).fetchall()
        return sorted((NotificationRow(**dict(row)) for row in rows), key=lambda row: row.id)

    def finish_notification(self, claimed: NotificationRow, state: str, sent_to: list[str], next_at: float,
                            error: str | None) -> bool:
        """Record what the claim achieved; False (nothing written) if the claim had lapsed and was taken again."""
        if state not in ("pending", "sent", "failed"):
            raise ValueError(f"unknown notification state {state!r}")
        with self._tx() as conn:
            updated: int = conn.execute(
                "UPDATE notifications SET state = ?, sent_to = ?, next_at = ?, last_error = ?, updated_at = ? "
                "WHERE id = ? AND state = 'sending' AND next_at = ?",
                (state, json.dumps(sorted(sent_to)), next_at, error[:1000] if error else None, now_iso(),
                 claimed.id, claimed.next_at)).rowcount
        return updated == 1

    def prune_notifications(self, before: str, limit: int) -> int:
        """Delete up to ``limit`` sent or given-up notifications last changed before ``before``; how many.

        Safe because ``before`` ([store] retention_days, at least a day) lies far behind the audit cursor's grace:
        a transition whose notification is deleted is never read again.
        """
        with self._tx() as conn:
            deleted: int = conn.execute(
                "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE state IN ('sent', 'failed') "
                "AND updated_at < ? LIMIT ?)", (before, limit)).rowcount
        return deleted

    def list_notifications(self, limit: int = 100) -> list[NotificationRow]:
        """The latest notifications, newest first (the CLI and the tests read them)."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM notifications ORDER BY id DESC LIMIT ?",
                                      (limit,)).fetchall()
        return [NotificationRow(**dict(row)) for row in rows]
