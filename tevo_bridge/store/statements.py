"""The store's statements, shared by both backends: each public method is one transaction.

*Why one class of statements and a connector per backend:* the store's SQL is plain SQL that SQLite
and PostgreSQL both run (upserts, ``RETURNING``, CTEs), so what is recorded together and what is
refused is written once, here. How a statement reaches a database (one SQLite connection behind a
lock, or a pooled PostgreSQL connection per thread) is the backend's ``Connector``
(``SqliteConnector`` in ``store/sqlite.py``, ``PostgresConnector`` in ``store/postgres.py``), handed
to the store rather than swapped into it. ``SqliteStore`` and ``PostgresStore`` add what is theirs
alone: opening, migrating, the schema version, and on PostgreSQL the rules for more than one process.

Each public method is one transaction, so an inbound event, its inbox row and its job are committed
together or not at all, and the HTTP answer is sent only after the commit.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

from tevo_bridge.clock import now_iso
from tevo_bridge.store.notifications import NotificationStatements
from tevo_bridge.store.search import MAX_TEXT, buyer_search, like_pattern
from tevo_bridge.store.vocabulary import (
    ORDER_STATES,
    TERMINAL_STATES,
    AuditNote,
    AuditRow,
    Backend,
    Event,
    HoldRow,
    HoldState,
    Job,
    JobKind,
    OiInvoiceRow,
    OrderQuery,
    OrderRow,
    OrderState,
    ResolveOutcome,
    RetryOutcome,
    StoreStats,
)

#: The ``asked_at`` of an ask that makes a running job run again whatever the run read (``_enqueue``).
ALWAYS_RERUN = float("inf")

#: An enqueue of a job whose key exists: a finished job is re-opened; a queued one runs no later than asked; a
#: running one runs again after (unless its run read TEvo after the latest ask, ``asked_at``: ``complete_job``).
#: One text for ``_enqueue`` and PostgreSQL's one-statement intake writes (``store/pg_intake.py``), so the rule
#: lives once.
JOB_REQUEUED = """
            ON CONFLICT(key) DO UPDATE SET
                rerun = CASE WHEN jobs.state = 'running' THEN 1 ELSE jobs.rerun END,
                asked_at = CASE WHEN jobs.asked_at IS NULL OR excluded.asked_at > jobs.asked_at
                                THEN excluded.asked_at ELSE jobs.asked_at END,
                attempts = CASE WHEN jobs.state IN ('done', 'failed') THEN 0 ELSE jobs.attempts END,
                run_at = CASE WHEN jobs.state IN ('done', 'failed') OR excluded.run_at < jobs.run_at
                              THEN excluded.run_at ELSE jobs.run_at END,
                state = CASE WHEN jobs.state = 'running' THEN 'running' ELSE 'queued' END,
                updated_at = excluded.updated_at
            """


class Connector(Protocol):
    """How the statements reach one backend's database (procrastinate's connectors are the model)."""

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """Held around a read: this thread's connection (re-entrant)."""

    @property
    def conn(self) -> Any:
        """This thread's connection, inside ``lock``: ``execute`` with ``?`` or ``:name`` placeholders."""

    def transaction(self) -> AbstractContextManager[Any]:
        """One transaction (a savepoint inside a batch), yielding the connection."""

    def batch(self, *, savepoints: bool = True, durable: bool = True) -> AbstractContextManager[None]:
        """Group commit: every call inside runs in one transaction (without savepoints, or not yet durable at its
        end: see ``SqlStore.batch``)."""

    def make_durable(self) -> None:
        """Every commit so far survives a power loss once this returns (see ``SqlStore.make_durable``)."""


class SqlStore(NotificationStatements):
    """Every statement of the store, run through a backend's ``Connector`` (``_db``); the notifications outbox's
    are in ``store/notifications.py``."""

    backend: Backend
    _db: Connector

    @property
    def _lock(self) -> AbstractContextManager[Any]:
        return self._db.lock

    @property
    def _conn(self) -> Any:
        return self._db.conn

    def _tx(self) -> AbstractContextManager[Any]:
        return self._db.transaction()

    def _pipelined(self, conn: Any) -> AbstractContextManager[Any]:
        """Around statements none of whose results is read before the last one's: a backend with round trips
        (PostgreSQL) sends them together and waits once; SQLite has no round trips to save."""
        return nullcontext()

    def batch(self, *, savepoints: bool = True, durable: bool = True) -> AbstractContextManager[None]:
        """Group commit: every method called inside runs in one transaction, one fsync at the end.

        With ``savepoints`` each method keeps its own atomicity (a savepoint it rolls back on error).
        Without, a batch costs no statements beyond its BEGIN and COMMIT, but a method that fails
        taints it: the batch then raises ``BatchTainted`` and commits nothing (a backend may keep
        savepoints regardless). The caller (``AsyncStore``) reports results only after the commit
        returned, so "recorded before answered" holds for every call in the batch. If the commit
        fails, nothing of the batch is kept and every caller gets the error.

        ``durable=False`` leaves the fsync to the caller, who calls ``make_durable`` before anyone hears of the
        batch (``AsyncStore``'s syncer thread, so that the next batch is written meanwhile).
        """
        return self._db.batch(savepoints=savepoints, durable=durable)

    def make_durable(self) -> None:
        """Every commit so far survives a power loss once this returns: the SQLite store's fsync of its log
        (``store/walsync.py``); nothing on PostgreSQL, whose COMMIT waits for its own. Raises ``StoreNotDurable``
        if the disk failed, after which the store refuses every call."""
        self._db.make_durable()

    def check_writable(self) -> None:
        """Raise if a write transaction cannot start (read-only file, full disk, locked)."""
        with self._tx() as conn:
            conn.execute("UPDATE jobs SET id = id WHERE 1 = 0")  # portable: PostgresStore runs it too

    # Inbound events ----------------------------------------------------------------

    def record_event(self, event: Event, source_state: str = OrderState.NEW) -> bool:
        """Record an event and queue its order job in one transaction.  False for a duplicate.

        PostgreSQL runs this as one statement (``store/pg_intake.py``, ``RECORD_*``): a rule changed here
        changes there too."""
        now = now_iso()
        with self._tx() as conn:
            if not self._insert_inbox(conn, event, now):
                return False
            if event.order_id is not None and not event.ignored:
                self._ensure_order(conn, event.order_id, event.channel, now, global_id=event.global_id,
                                   state=source_state)
                # TEvo's news: a read of TEvo sent after it shows it. Stamped on the monotonic clock, as the run's
                # read is (pipeline/reads.py): a wall clock stepped back between the two would skip a needed run.
                self._enqueue(conn, JobKind.ORDER, f"order:{event.order_id}", event.order_id, None, time.time(), now,
                              asked_at=time.monotonic())
            elif event.order_group_id is not None and not event.ignored:
                self._enqueue(conn, JobKind.ORDER_GROUP, f"group:{event.order_group_id}", None, None, time.time(), now)
            return True

    def _insert_inbox(self, conn: sqlite3.Connection, event: Event, now: str) -> bool:
        return bool(self._inbox_row(conn, event, now).rowcount == 1)

    def _inbox_row(self, conn: sqlite3.Connection, event: Event, now: str) -> Any:
        """The inbox insert's cursor: a caller that needs no row count does not wait for it (PostgreSQL's pipeline)."""
        return conn.execute(
            "INSERT INTO inbox (channel, kind, dedupe_key, order_id, global_id, outcome, payload, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
            (event.channel, event.kind, event.dedupe_key, event.order_id, event.global_id,
             "ignored" if event.ignored else "queued", event.payload, now),
        )

    def _ensure_order(
        self, conn: sqlite3.Connection, order_id: int, source: str, now: str, *, global_id: str | None = None,
        state: str = OrderState.NEW,
    ) -> None:
        inserted = conn.execute(
            "INSERT INTO orders (id, state, source, global_id, first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO NOTHING",
            (order_id, state, source, global_id, now, now),
        ).rowcount
        if inserted:
            conn.execute(
                "INSERT INTO audit (order_id, at, action, to_state, reason) VALUES (?, ?, 'transition', ?, ?)",
                (order_id, now, state, f"first seen via {source}"),
            )
        elif global_id is not None:
            conn.execute("UPDATE orders SET global_id = COALESCE(global_id, ?) WHERE id = ?", (global_id, order_id))

    def _enqueue(
        self, conn: sqlite3.Connection, kind: JobKind, key: str, order_id: int | None, global_id: str | None,
        run_at: float, now: str, *, asked_at: float = ALWAYS_RERUN,
    ) -> None:
        """``asked_at``: when the news was taken, for news a read of TEvo shows (``record_event``); every other ask
        (an operator's retry, an Order Integration invoice naming a hold) changed the store, which no read of
        TEvo shows, and makes a second run of a running job whatever its time (``complete_job``)."""
        # (Portable SQL: PostgresStore runs this statement too.)
        conn.execute(
            """
            INSERT INTO jobs (kind, key, order_id, global_id, state, run_at, asked_at, created_at, updated_at)
            VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)
            """ + JOB_REQUEUED,
            (kind, key, order_id, global_id, run_at, asked_at, now, now),
        )

    def ensure_order(self, order_id: int, source: str) -> None:
        with self._tx() as conn:
            self._ensure_order(conn, order_id, source, now_iso())

    def enqueue_order(self, order_id: int, source: str = "operator", delay: float = 0.0) -> None:
        now = now_iso()
        with self._tx() as conn:
            self._ensure_order(conn, order_id, source, now)
            self._enqueue(conn, JobKind.ORDER, f"order:{order_id}", order_id, None, time.time() + delay, now)

    def known_order_states(self, order_ids: list[int]) -> dict[int, str]:
        if not order_ids:
            return {}
        with self._lock:
            marks = ",".join("?" * len(order_ids))
            rows = self._conn.execute(f"SELECT id, state FROM orders WHERE id IN ({marks})", order_ids).fetchall()
        return {row["id"]: row["state"] for row in rows}

    # Order Integration holds -----------------------------------------------------------

    def begin_hold(self, event: Event, remote_id: str, quantity: int, price: str | None,
                   ticket_group_id: int | None, expires_at: str) -> HoldRow | None:
        """Record a new hold as pending before the POS is asked; the existing row if the global id is known.

        PostgreSQL records a new hold in one statement (``store/pg_intake.py``, ``BEGIN_HOLD``): a rule changed
        here changes there too; a repeat takes ``_repeated_hold`` on both."""
        now = now_iso()
        with self._tx() as conn:
            # Insert first, read only on a conflict: a new hold (the common case) reads nothing, so on
            # PostgreSQL concurrent holds take no predicate locks that would make them abort each other.
            inserted = conn.execute(
                "INSERT INTO holds (global_id, remote_id, quantity, price, ticket_group_id, state, created_at, "
                "expires_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT(global_id) DO NOTHING",
                (event.global_id, remote_id, quantity, price, ticket_group_id, now, expires_at, now),
            ).rowcount == 1
            if not inserted:
                return self._hold_again(conn, event.global_id or "", remote_id, quantity, now)
            # No audit row yet: the request is the inbox row, and the hold's one audit row says what came of it
            # (``finish_hold``; a hold the daemon never finished is audited by ``fail_stale_pending_holds``).
            # A row here too was a sixth of the store's work per hold.
            self._inbox_row(conn, event, now)
            return None

    def _hold_again(self, conn: sqlite3.Connection, global_id: str, remote_id: str, quantity: int, now: str) -> HoldRow:
        existing = self._hold(conn, global_id)
        assert existing is not None  # the row that conflicted; holds are never deleted while answered
        return self._repeated_hold(conn, existing, remote_id, quantity, now)

    def _repeated_hold(self, conn: sqlite3.Connection, hold: HoldRow, remote_id: str, quantity: int,
                       now: str) -> HoldRow:
        """The same hold asked for again.  Its answer must be true now, and durable before it is sent: a held
        hold past its TTL is expired here rather than at the next sweep, and a repeat of a closed hold is
        audited, since it is not answered with the stored "held".  A request for other tickets changes nothing
        (it is refused as invalid)."""
        if hold.remote_id != remote_id or hold.quantity != quantity:
            return hold
        if hold.state == HoldState.HELD and hold.order_id is None and hold.expires_at < now:
            self._expire_hold(conn, hold.global_id, now)
            hold = self._hold(conn, hold.global_id) or hold
        closed = hold.closed_as()
        if closed is not None:
            conn.execute("INSERT INTO audit (global_id, at, action, reason) VALUES (?, ?, 'hold', ?)",
                         (hold.global_id, now, f"TEvo asked for the hold again after it was {closed}: "
                                               "told it is closed"))
        return hold

    def finish_hold(self, global_id: str, state: str, status: int, response: str, *, hold_id: str | None = None,
                    reason: str | None = None, release_in_pos: bool = False) -> HoldRow | None:
        """Store the POS's outcome and the answer; the hold as it now stands (TEvo may have released it).

        PostgreSQL runs this as one statement (``store/pg_intake.py``, ``FINISH_HOLD``): a rule changed here
        changes there too."""
        now = now_iso()
        with self._tx() as conn:
            if state == HoldState.RELEASED:  # the row after the update cannot tell whether it was released before
                current = self._hold(conn, global_id)
                release_in_pos = release_in_pos or (current is not None and current.state == HoldState.RELEASED)
            # One statement updates and reads back (a read before and one after were two more per hold). SQLite
            # makes the change at the first step, which returns the one row: fetching all would step once more,
            # one more hand-off of the GIL per hold.
            row = conn.execute(
                "UPDATE holds SET state = CASE WHEN state = 'released' THEN 'released' ELSE ? END, status = ?, "
                "response = ?, hold_id = ?, reason = ?, updated_at = ? WHERE global_id = ? RETURNING *",
                (state, status, response, hold_id, reason, now, global_id),
            ).fetchone()
            hold = HoldRow(**dict(row)) if row else None
            if hold is not None and hold.state == HoldState.RELEASED and state != HoldState.RELEASED:
                # TEvo released it while the POS was still holding: it stays released, and whatever the
                # POS did hold is freed by a job.
                state, release_in_pos = HoldState.RELEASED, True
            with self._pipelined(conn):
                conn.execute("INSERT INTO audit (global_id, at, action, to_state, reason) VALUES (?, ?, 'hold', ?, ?)",
                             (global_id, now, state, reason if hold is None else hold.outcome_reason(reason)))
                if release_in_pos:
                    self._enqueue(conn, JobKind.RELEASE_HOLD, f"release:{global_id}", None, global_id, time.time(), now)
            return hold

    def get_hold(self, global_id: str) -> HoldRow | None:
        with self._lock:
            return self._hold(self._conn, global_id)

    def _hold(self, conn: sqlite3.Connection, global_id: str) -> HoldRow | None:
        row = conn.execute("SELECT * FROM holds WHERE global_id = ?", (global_id,)).fetchone()
        return HoldRow(**dict(row)) if row else None

    def hold_for_order(self, order_id: int) -> HoldRow | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM holds WHERE order_id = ?", (order_id,)).fetchone()
        return HoldRow(**dict(row)) if row else None

    def release_hold(self, event: Event) -> HoldRow | None:
        """TEvo's release: a held hold becomes released and a job frees it in the POS.  Returns the hold as it was."""
        now = now_iso()
        global_id = event.global_id or ""
        with self._tx() as conn:
            self._insert_inbox(conn, event, now)
            hold = self._hold(conn, global_id)
            if hold is not None and hold.state in (HoldState.HELD, HoldState.PENDING):
                conn.execute("UPDATE holds SET state = 'released', updated_at = ? WHERE global_id = ?", (now, global_id))
                conn.execute("INSERT INTO audit (global_id, at, action, from_state, to_state, reason) "
                             "VALUES (?, ?, 'hold', ?, 'released', 'TEvo released the hold')", (global_id, now, hold.state))
                self._enqueue(conn, JobKind.RELEASE_HOLD, f"release:{global_id}", None, global_id, time.time(), now)
            return hold

    def mark_hold(self, global_id: str, state: str, reason: str) -> None:
        now = now_iso()
        with self._tx() as conn:
            conn.execute("UPDATE holds SET state = ?, updated_at = ? WHERE global_id = ?", (state, now, global_id))
            conn.execute("INSERT INTO audit (global_id, at, action, to_state, reason) VALUES (?, ?, 'hold', ?, ?)",
                         (global_id, now, state, reason))

    def queue_release(self, global_id: str, reason: str) -> None:
        now = now_iso()
        with self._tx() as conn:
            conn.execute("INSERT INTO audit (global_id, at, action, reason) VALUES (?, ?, 'hold', ?)",
                         (global_id, now, reason))
            self._enqueue(conn, JobKind.RELEASE_HOLD, f"release:{global_id}", None, global_id, time.time(), now)

    def expire_holds(self, now_text: str) -> list[str]:
        """Holds past their TTL without an invoice: mark expired and queue their POS release."""
        now = now_iso()
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT global_id FROM holds WHERE state = 'held' AND order_id IS NULL AND expires_at < ?", (now_text,)
            ).fetchall()
            for row in rows:
                self._expire_hold(conn, row["global_id"], now)
        return [row["global_id"] for row in rows]

    def _expire_hold(self, conn: sqlite3.Connection, global_id: str, now: str) -> None:
        conn.execute("UPDATE holds SET state = 'expired', updated_at = ? WHERE global_id = ?", (now, global_id))
        conn.execute("INSERT INTO audit (global_id, at, action, from_state, to_state, reason) "
                     "VALUES (?, ?, 'hold', 'held', 'expired', 'hold TTL passed without an invoice')",
                     (global_id, now))
        self._enqueue(conn, JobKind.RELEASE_HOLD, f"release:{global_id}", None, global_id, time.time(), now)

    def fail_stale_pending_holds(self, older_than: str) -> list[str]:
        """Holds left pending by a crash mid-call: fail closed and release whatever the POS may have held."""
        now = now_iso()
        with self._tx() as conn:
            rows = conn.execute("SELECT * FROM holds WHERE state = 'pending' AND created_at < ?",
                                (older_than,)).fetchall()
            for row in rows:
                body = json.dumps({"status": "error", "global_id": row["global_id"], "reason": "pos_error"},
                                  separators=(",", ":"))
                conn.execute("UPDATE holds SET state = 'failed', status = 503, response = ?, reason = 'interrupted', "
                             "updated_at = ? WHERE global_id = ?", (body, now, row["global_id"]))
                conn.execute("INSERT INTO audit (global_id, at, action, from_state, to_state, reason) "
                             "VALUES (?, ?, 'hold', 'pending', 'failed', ?)",
                             (row["global_id"], now, HoldRow(**dict(row)).outcome_reason(
                                 "interrupted: the daemon stopped before the POS answered")))
                self._enqueue(conn, JobKind.RELEASE_HOLD, f"release:{row['global_id']}", None, row["global_id"],
                              time.time(), now)
        return [row["global_id"] for row in rows]

    def record_oi_invoice(self, event: Event) -> tuple[OiInvoiceRow | None, HoldRow | None]:
        """Record TEvo's invoice call and queue the order; the earlier row for this global id if there is one."""
        now = now_iso()
        global_id, order_id = event.global_id or "", event.order_id
        assert order_id is not None
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM oi_invoices WHERE global_id = ?", (global_id,)).fetchone()
            hold = self._hold(conn, global_id)
            if row is not None:
                return OiInvoiceRow(**dict(row)), hold
            self._insert_inbox(conn, event, now)
            conn.execute("INSERT INTO oi_invoices (global_id, order_id, created_at) VALUES (?, ?, ?)",
                         (global_id, order_id, now))
            if hold is not None:
                conn.execute("UPDATE holds SET order_id = ?, updated_at = ? WHERE global_id = ?",
                             (order_id, now, global_id))
            self._ensure_order(conn, order_id, event.channel, now, global_id=global_id)
            self._enqueue(conn, JobKind.ORDER, f"order:{order_id}", order_id, None, time.time(), now)
            return None, hold

    def set_oi_invoice_response(self, global_id: str, status: int, response: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE oi_invoices SET status = ?, response = ? WHERE global_id = ? AND status IS NULL",
                         (status, response, global_id))

    def refuse_oi_invoice(self, global_id: str, status: int, response: str, reason: str) -> None:
        """TEvo has no order for this invoice call: store the answer saying so, make that the order's review
        reason, and untie the hold from the order, so it is freed when TEvo releases it or it expires as if
        no invoice had come.  Nothing changes if the call was answered already (the first answer stands)."""
        now = now_iso()
        with self._tx() as conn:
            row = conn.execute("UPDATE oi_invoices SET status = ?, response = ? WHERE global_id = ? AND status IS NULL "
                               "RETURNING order_id", (status, response, global_id)).fetchone()
            if row is None:
                return
            order_id = row["order_id"]
            conn.execute("UPDATE orders SET last_error = ?, updated_at = ? WHERE id = ? AND state = 'needs_review'",
                         (reason, now, order_id))
            conn.execute("UPDATE holds SET order_id = NULL, updated_at = ? WHERE global_id = ? AND order_id = ?",
                         (now, global_id, order_id))
            conn.execute("INSERT INTO audit (order_id, global_id, at, action, reason) VALUES (?, ?, ?, 'oi_invoice', ?)",
                         (order_id, global_id, now, reason))

    def get_oi_invoice(self, global_id: str) -> OiInvoiceRow | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM oi_invoices WHERE global_id = ?", (global_id,)).fetchone()
        return OiInvoiceRow(**dict(row)) if row else None

    # Jobs ------------------------------------------------------------------------------

    def claim_job(self, lease_seconds: float) -> Job | None:
        """Take the most overdue job, or one whose worker died (lease expired)."""
        now = time.time()
        with self._tx() as conn:
            row = conn.execute(
                """
                UPDATE jobs SET state = 'running', lease_until = ?, asked_at = NULL, updated_at = ?
                WHERE id = (
                    SELECT id FROM jobs
                    WHERE (state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?)
                    ORDER BY run_at LIMIT 1
                )
                RETURNING id, kind, key, order_id, global_id, attempts, lease_until
                """,
                (now + lease_seconds, now_iso(), now, now),
            ).fetchone()
        return Job(**dict(row)) if row else None

    def claim_job_or_next_due(self, lease_seconds: float) -> tuple[Job | None, float | None]:
        """What a worker asks when it is free: a job, or when to look again. One call, not two: every job a
        worker finishes ends in an empty claim and a look at the queue, and each awaited store call is a
        hand-off to the store thread and back (benchmarks/NOTES.md, "Issue 24: drain")."""
        job = self.claim_job(lease_seconds)  # PostgresStore's own claim, advisory lock and all
        return (job, None) if job is not None else (None, self.next_job_due())

    def renew_job(self, job: Job, lease_seconds: float) -> Job | None:
        """The heartbeat of a running job (``pipeline/lease.py``): fenced on the lease the worker holds, so a
        claim another worker has taken over is never extended, and the caller learns it lost the job."""
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_until = ? "
                "RETURNING id, kind, key, order_id, global_id, attempts, lease_until",
                (time.time() + lease_seconds, now_iso(), job.id, job.lease_until),
            ).fetchone()
        return Job(**dict(row)) if row else None

    def requeue_running_jobs(self) -> int:
        """At start-up no job can be running (one daemon per store): what was, died with the last process."""
        with self._tx() as conn:
            requeued: int = conn.execute(
                "UPDATE jobs SET state = 'queued', lease_until = NULL, run_at = ?, updated_at = ? "
                "WHERE state = 'running'", (time.time(), now_iso())).rowcount
        return requeued

    def complete_job(self, job: Job, read_at: float | None = None) -> None:
        """The job is done, unless it was asked for again while it ran (``rerun``): then it is queued again.

        ``read_at``: when the run sent the read of TEvo its outcome rests on (``time.monotonic()``, taken before the
        request went out). An ask stamped before it came before that read, which therefore already shows what
        the news was about: no second run for it. Only an ask at the same moment or later queues the job again.
        Exact because the stamps and ``read_at`` are one clock: every process that writes a SQLite store runs
        on its host (one daemon, the CLI), whose monotonic clock they share and which no one sets back; a stamp
        never outlives a boot (the claim clears it). ``PostgresStore`` passes no ``read_at`` (replicas' clocks
        differ).
        """
        rerun = "rerun <> 0" if read_at is None else "rerun <> 0 AND (asked_at IS NULL OR asked_at >= ?)"
        with self._tx() as conn:
            conn.execute(
                f"UPDATE jobs SET state = CASE WHEN {rerun} THEN 'queued' ELSE 'done' END, rerun = 0, attempts = 0, "
                "run_at = ?, lease_until = NULL, last_error = NULL, updated_at = ? WHERE id = ? AND lease_until = ?",
                (*(() if read_at is None else (read_at,)), time.time(), now_iso(), job.id, job.lease_until),
            )

    def complete_job_and_claim(self, job: Job, read_at: float | None,
                               lease_seconds: float) -> tuple[Job | None, float | None]:
        """``complete_job``, then ``claim_job_or_next_due`` for the worker now free: one hand-off to the store
        thread where there were two, for every job a worker finishes (most such claims find nothing: 1.3 awaited
        store calls per order of the drain, benchmarks/NOTES.md "Issue 24, third pass"). Still two transactions:
        a completion does not wait for, nor fall with, the claim."""
        self.complete_job(job, read_at)
        return self.claim_job_or_next_due(lease_seconds)

    def retry_job(self, job: Job, error: str, delay: float) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET state = 'queued', rerun = 0, attempts = attempts + 1, run_at = ?, lease_until = NULL, "
                "last_error = ?, updated_at = ? WHERE id = ? AND lease_until = ?",
                (time.time() + delay, error[:2000], now_iso(), job.id, job.lease_until),
            )

    def snooze_job(self, job: Job, note: str, delay: float) -> None:
        """Look again after ``delay``: not a failure, so no attempt is counted (news that came meanwhile runs now)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET state = 'queued', run_at = CASE WHEN rerun <> 0 THEN ? ELSE ? END, rerun = 0, "
                "attempts = 0, lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ? AND lease_until = ?",
                (time.time(), time.time() + delay, note[:2000], now_iso(), job.id, job.lease_until),
            )

    def fail_job(self, job: Job, error: str, *, review: bool = False) -> None:
        """The job stops for good; with ``review``, its order goes to ``needs_review`` in the same transaction.

        One transaction, because an order that is not settled must always have a job that will look at it
        again: a crash between failing the job and marking the order would strand the order forever.
        """
        with self._tx() as conn:
            failed = conn.execute(
                "UPDATE jobs SET state = 'failed', rerun = 0, attempts = attempts + 1, lease_until = NULL, "
                "last_error = ?, updated_at = ? WHERE id = ? AND lease_until = ?",
                (error[:2000], now_iso(), job.id, job.lease_until),
            ).rowcount
            if review and failed and job.order_id is not None:
                self._update_order(conn, job.order_id, OrderState.NEEDS_REVIEW, error, {"last_error": error})

    def abandon_job(self, job: Job) -> None:
        """The worker gives the job up with no outcome recorded (the store failed): it runs again after its
        lease.  Nothing to free here; ``PostgresStore`` lets go of the job's lock."""

    def try_lead(self, name: str, holder: str, lease_seconds: float) -> bool:
        """Always True: one daemon per SQLite store (``DaemonLock``) is the only one there is to lead."""
        return True

    def next_job_due(self) -> float | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(CASE WHEN state = 'queued' THEN run_at ELSE lease_until END) FROM jobs "
                "WHERE state IN ('queued', 'running')"
            ).fetchone()
        due: float | None = row[0]
        return due

    def job_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {row[0]: row[1] for row in rows}

    def order_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute("SELECT state, COUNT(*) FROM orders GROUP BY state").fetchall()
        return {row[0]: row[1] for row in rows}

    def stats(self) -> StoreStats:
        """What ``/metrics`` reports about the store, read in one go (indexed counts: cheap per scrape)."""
        terminal = tuple(sorted(TERMINAL_STATES))
        with self._lock:
            conn = self._conn
            orders = dict(conn.execute("SELECT state, COUNT(*) FROM orders GROUP BY state").fetchall())
            jobs = dict(conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
            holds = dict(conn.execute("SELECT state, COUNT(*) FROM holds GROUP BY state").fetchall())
            oldest = conn.execute(
                f"SELECT MIN(first_seen_at) FROM orders WHERE state NOT IN ({', '.join('?' * len(terminal))})",
                terminal).fetchone()[0]
        return StoreStats(orders=orders, jobs=jobs, holds=holds, oldest_open_order_seen_at=oldest)

    # Orders ------------------------------------------------------------------------------

    def get_order(self, order_id: int) -> OrderRow | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        return OrderRow(**dict(row)) if row else None

    def update_order(self, order_id: int, *, state: str | None = None, reason: str | None = None,
                     notes: Sequence[AuditNote] = (), **fields: Any) -> None:
        """Change an order's fields and, when the state moves, write the transition to the audit log; ``notes``
        (audit rows of the same moment) go first, in the same transaction."""
        allowed = {"seller_state", "buyer_type", "buyer_id", "global_id", "customer_id", "invoice_id",
                   "reject_reason", "last_error", "snapshot", "created_at", "accepted_at", "reservation_round",
                   "tevo_seen_at", "tevo_shipments", "tevo_checks", "pos_hold_id"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown order fields {sorted(unknown)}")
        with self._tx() as conn:
            for note in notes:
                self._audit_row(conn, note.action, order_id, None, note.reason, note.details)
            self._update_order(conn, order_id, state, reason, fields)

    def _update_order(self, conn: sqlite3.Connection, order_id: int, state: str | None, reason: str | None,
                      fields: dict[str, Any]) -> None:
        if state is not None and state not in ORDER_STATES:  # keeps ORDER_STATES the one complete list
            raise ValueError(f"unknown order state {state!r}: add it to ORDER_STATES")
        now = now_iso()
        current = conn.execute("SELECT state FROM orders WHERE id = ?", (order_id,)).fetchone()
        if current is None:
            raise KeyError(order_id)
        updates = dict(fields, updated_at=now)
        if "snapshot" in fields:  # what the dashboard's search finds, kept with the snapshot it comes from
            updates["buyer_search"] = buyer_search(fields["snapshot"])
        if state is not None:
            updates["state"] = state
        assignments = ", ".join(f"{key} = ?" for key in updates)
        conn.execute(f"UPDATE orders SET {assignments} WHERE id = ?", (*updates.values(), order_id))
        if state is not None and state != current["state"]:
            conn.execute(
                "INSERT INTO audit (order_id, at, action, from_state, to_state, reason) "
                "VALUES (?, ?, 'transition', ?, ?, ?)",
                (order_id, now, current["state"], state, reason),
            )

    def audit(self, action: str, *, order_id: int | None = None, global_id: str | None = None,
              reason: str | None = None, details: Any = None) -> None:
        with self._tx() as conn:
            self._audit_row(conn, action, order_id, global_id, reason, details)

    def _audit_row(self, conn: sqlite3.Connection, action: str, order_id: int | None, global_id: str | None,
                   reason: str | None, details: Any) -> None:
        conn.execute(
            "INSERT INTO audit (order_id, global_id, at, action, reason, details) VALUES (?, ?, ?, ?, ?, ?)",
            (order_id, global_id, now_iso(), action, reason,
             json.dumps(details, default=str, separators=(",", ":")) if details is not None else None),
        )

    def revoke_session(self, sid: str, until: float) -> None:
        """Refuse dashboard session ``sid`` until ``until`` (epoch seconds); forget those whose time has passed."""
        with self._tx() as conn:
            conn.execute("DELETE FROM revoked_sessions WHERE until < ?", (time.time(),))
            conn.execute("INSERT INTO revoked_sessions (sid, until) VALUES (?, ?) ON CONFLICT (sid) DO UPDATE "
                         "SET until = excluded.until", (sid, until))

    def session_revoked(self, sid: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM revoked_sessions WHERE sid = ? AND until >= ?",
                                     (sid, time.time())).fetchone()
        return row is not None

    def audit_trail(self, order_id: int) -> list[AuditRow]:
        with self._lock:
            order = self._conn.execute("SELECT global_id FROM orders WHERE id = ?", (order_id,)).fetchone()
            global_id = order["global_id"] if order else None
            # Two index seeks (audit_order, audit_global): with an OR, SQLite scanned the whole table.
            rows = self._conn.execute(
                "SELECT at, action, from_state, to_state, reason, details FROM audit WHERE id IN "
                "(SELECT id FROM audit WHERE order_id = ? UNION SELECT id FROM audit WHERE global_id = ?) ORDER BY id",
                (order_id, global_id),
            ).fetchall()
        return [AuditRow(**dict(row)) for row in rows]

    def list_orders(self, state: str | None = None, limit: int = 1000) -> list[OrderRow]:
        with self._lock:
            if state:
                rows = self._conn.execute("SELECT * FROM orders WHERE state = ? ORDER BY id DESC LIMIT ?",
                                          (state, limit)).fetchall()
            else:
                rows = self._conn.execute("SELECT * FROM orders ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [OrderRow(**dict(row)) for row in rows]

    def search_orders(self, query: OrderQuery, limit: int) -> list[OrderRow]:
        """Orders matching ``query``, newest id first, at most ``limit`` (the dashboard pages with ``before_id``)."""
        where: list[str] = []
        args: list[Any] = []
        for column, op, value in (("state", "=", query.state), ("source", "=", query.source),
                                  ("buyer_type", "=", query.buyer_type), ("first_seen_at", ">=", query.seen_from),
                                  ("first_seen_at", "<", query.seen_until), ("id", "=", query.order_id),
                                  ("invoice_id", "=", query.invoice_id), ("id", "<", query.before_id)):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        sql = "SELECT * FROM orders" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*args, limit)).fetchall()
        return [OrderRow(**dict(row)) for row in rows]

    def find_orders(self, text: str, limit: int) -> list[OrderRow]:
        """Orders whose TEvo id or POS invoice id is ``text``, or whose buyer's name or e-mail contains it (any
        case), newest id first, at most ``limit``. The id and the invoice are index seeks; the buyer part reads
        the ``buyer_search`` column of every order (no index serves a "contains")."""
        text = text.strip()[:MAX_TEXT]
        if not text:
            return []
        order_id = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM orders WHERE id = ? OR invoice_id = ? OR buyer_search LIKE ? ESCAPE '\\' "
                "ORDER BY id DESC LIMIT ?", (order_id, text, like_pattern(text), limit)).fetchall()
        return [OrderRow(**dict(row)) for row in rows]

    def handover_orders(self, limit: int) -> list[OrderRow]:
        """Orders with a FedEx airbill saved or local pickup details sent that TEvo has not yet called completed
        (nor anyone canceled, rejected or resolved), newest id first: the "to ship / to hand over" list."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM orders WHERE id IN (SELECT order_id FROM audit WHERE action IN "
                "('airbill.saved', 'pickup.update') AND order_id IS NOT NULL) "
                "AND state NOT IN ('canceled', 'rejected', 'resolved') "
                "AND (seller_state IS NULL OR seller_state NOT IN ('completed', 'canceled', 'rejected')) "
                "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [OrderRow(**dict(row)) for row in rows]

    def oldest_open_order(self) -> OrderRow | None:
        """The order first seen longest ago that is not finished (``needs_review`` included).

        One index seek per open state (``orders(state, first_seen_at)``): a "state NOT IN" query would walk
        every finished order older than the oldest open one.
        """
        oldest = None
        with self._lock:
            for state in ORDER_STATES:
                if state in TERMINAL_STATES:
                    continue
                row = self._conn.execute("SELECT * FROM orders WHERE state = ? ORDER BY first_seen_at LIMIT 1",
                                         (state,)).fetchone()
                if row is not None and (oldest is None or row["first_seen_at"] < oldest["first_seen_at"]):
                    oldest = row
        return OrderRow(**dict(oldest)) if oldest else None

    def order_activity(self, since: str) -> list[tuple[str, str, int]]:
        """(hour ``YYYY-MM-DDTHH``, outcome, orders) since ``since``: orders that reached ``invoicing`` (accepted),
        ``rejected`` or ``needs_review`` in each UTC hour, each order counted once per hour and outcome."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT substr(at, 1, 13) AS hour, to_state, COUNT(DISTINCT order_id) FROM audit "
                "WHERE at >= ? AND action = 'transition' AND to_state IN ('invoicing', 'rejected', 'needs_review') "
                "GROUP BY substr(at, 1, 13), to_state ORDER BY hour", (since,)).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    def list_holds(self, state: str, limit: int) -> list[HoldRow]:
        """The holds in ``state``, most recently changed first, at most ``limit`` (an index seek)."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM holds WHERE state = ? ORDER BY updated_at DESC LIMIT ?",
                                      (state, limit)).fetchall()
        return [HoldRow(**dict(row)) for row in rows]

    def resolve_order(self, order_id: int, note: str, by: str) -> ResolveOutcome:
        """A person settled a ``needs_review`` order outside tevo-bridge: it becomes ``resolved`` (terminal), the
        note and who wrote it in its audit trail. Any other state is refused: nothing waits for a person there."""
        now = now_iso()
        with self._tx() as conn:
            current = conn.execute("SELECT state FROM orders WHERE id = ?", (order_id,)).fetchone()
            if current is None:
                return "unknown"
            if current["state"] != OrderState.NEEDS_REVIEW:
                return "not_in_review"
            conn.execute("UPDATE orders SET state = 'resolved', updated_at = ? WHERE id = ?", (now, order_id))
            conn.execute("INSERT INTO audit (order_id, at, action, from_state, to_state, reason, details) "
                         "VALUES (?, ?, 'transition', 'needs_review', 'resolved', ?, ?)",
                         (order_id, now, note, json.dumps({"by": by}, separators=(",", ":"))))
            return "resolved"

    def job_for_order(self, order_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM jobs WHERE key = ?", (f"order:{order_id}",)).fetchone()
        return dict(row) if row else None

    def retry_order(self, order_id: int, reason: str = "operator retry", *, redeliver: bool = False) -> RetryOutcome:
        """Send an order back through the pipeline, which continues from the facts, not from its state.

        A ``done``, ``rejected`` or ``canceled`` order is refused (``"terminal"``): there is nothing
        left to decide. ``redeliver`` lets a ``done`` order run its delivery steps again.
        """
        now = now_iso()
        with self._tx() as conn:
            current = conn.execute("SELECT state FROM orders WHERE id = ?", (order_id,)).fetchone()
            if current is None:
                return "unknown"
            state = current["state"]
            if state in TERMINAL_STATES and not (redeliver and state == OrderState.DONE):
                return "terminal"
            conn.execute("UPDATE orders SET state = 'new', last_error = NULL, updated_at = ? WHERE id = ?",
                         (now, order_id))
            conn.execute("INSERT INTO audit (order_id, at, action, from_state, to_state, reason) "
                         "VALUES (?, ?, 'transition', ?, 'new', ?)", (order_id, now, state, reason))
            self._enqueue(conn, JobKind.ORDER, f"order:{order_id}", order_id, None, time.time(), now)
            return "queued"

    def prune(self, before: str, limit: int = 500) -> dict[str, int]:
        """Delete up to ``limit`` inbox rows and ``limit`` audit rows older than ``before`` that nothing open needs.

        What goes: the rows of orders that are finished (done, rejected, canceled) and last changed
        before ``before``, and rows tied to no order or hold still open.  What stays, whatever its
        age: every row of an order still in the pipeline or finished recently, and of a hold still
        pending or held; orders, holds, jobs and Order Integration answers themselves are never
        deleted (they answer repeats and keep TEvo's history).  Batched, so the daemon's writes
        never wait long behind it: call again until it returns zeros.
        """
        terminal = ", ".join(f"'{state}'" for state in sorted(TERMINAL_STATES))
        # The WITH sits inside the subquery: Python's sqlite3 reports rowcount only for a statement
        # that starts with DELETE.  (Portable SQL: PostgresStore runs it too.)
        needed = f"""WITH keep_orders AS (SELECT id FROM orders WHERE state NOT IN ({terminal}) OR updated_at >= :before),
            live_globals AS (
                SELECT global_id FROM holds WHERE state IN ('pending', 'held') OR updated_at >= :before
                UNION SELECT global_id FROM orders WHERE global_id IS NOT NULL AND id IN (SELECT id FROM keep_orders))"""
        unneeded = ("(order_id IS NULL OR order_id NOT IN (SELECT id FROM keep_orders)) "
                    "AND (global_id IS NULL OR global_id NOT IN (SELECT global_id FROM live_globals))")
        args = {"before": before, "limit": limit}
        with self._tx() as conn:
            inbox = conn.execute(f"DELETE FROM inbox WHERE id IN ({needed} SELECT id FROM inbox "
                                 f"WHERE received_at < :before AND {unneeded} LIMIT :limit)", args).rowcount
            audit = conn.execute(f"DELETE FROM audit WHERE id IN ({needed} SELECT id FROM audit "
                                 f"WHERE at < :before AND {unneeded} LIMIT :limit)", args).rowcount
        return {"inbox": inbox, "audit": audit}

    def count(self, table: str) -> int:
        if table not in ("inbox", "orders", "holds", "jobs", "audit", "oi_invoices", "revoked_sessions", "notifications",
                         "notify_cursor"):
            raise ValueError(table)
        with self._lock:
            rows: int = self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            return rows
