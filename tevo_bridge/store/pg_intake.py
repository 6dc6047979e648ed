"""The intake's hot writes on PostgreSQL, each ONE statement: a new hold, its outcome, a webhook's event.

*Why these three differ from their SQLite twins* (``SqlStore.begin_hold``, ``finish_hold``,
``record_event`` in ``store/statements.py``, which keep the rules in words): on SQLite a statement is a
function call, on PostgreSQL it is driver work (parameters adapted, a result built, a protocol turn) and a
transaction's ``BEGIN``/``COMMIT`` are two more. Written as one data-modifying CTE run in autocommit, each
write is atomic by itself and costs one round trip: a hold went from 5 to 2, a webhook ack from 3 to 1, and
the daemon's CPU per request with them (benchmarks/NOTES.md, "PostgreSQL").

*What one statement changes, and why the outcomes do not:* every sub-statement sees the same snapshot and
none sees another's rows except through ``RETURNING``, so each later write is chained to the earlier one's
``RETURNING`` (``FROM inbox_row``): a replayed hold or a duplicate event inserts nothing, and so records
nothing more, exactly as the early ``return`` does on SQLite. The conflicts themselves are decided where
PostgreSQL decides them for the two-statement version too: ``ON CONFLICT`` waits for a concurrent insert of
the same key and then sees it; ``FOR UPDATE`` and ``UPDATE`` at READ COMMITTED act on the row's latest
committed version, whatever the snapshot held (tests/unit/test_store_pg_one_statement.py holds a row in
another transaction to pin each case). What needs a read and then a decision stays a transaction: a repeated
hold (``SqlStore._hold_again``: it may expire the hold and audit the repeat), and an event carrying both an
order and a global id (the id is merged into an existing order; no intake path sends one).

Placeholders are psycopg's own (``%(name)s``, one parameter per name however often it appears): these texts
are PostgreSQL's alone, so the shared SQL's rewrite is skipped. A parameter in an ``INSERT ... SELECT`` list
has no column to take its type from, so the ones that may be ``NULL`` or are not text carry a cast.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from tevo_bridge.store.statements import JOB_REQUEUED
from tevo_bridge.store.vocabulary import Event, HoldRow, JobKind

#: The channel ``NOTIFY`` wakes workers on (``listen_for_jobs``).
JOBS_CHANNEL = "tevo_jobs"

#: A hold's columns in ``HoldRow``'s order, so a returned row is built by position (no dict per row).
_HOLD_FIELDS = tuple(field.name for field in fields(HoldRow))
HOLD_COLUMNS = ", ".join(f"holds.{name}" for name in _HOLD_FIELDS)


def _job(source: str, order_id: str, global_id: str) -> str:
    """A job upserted once per row of ``source`` (none: nothing queued), with the ``NOTIFY`` an enqueue sends
    (delivered at commit; ``woken`` must be read by the main query, or PostgreSQL would not run it). Its
    ``asked_at`` is ``run_at``, the epoch: on PostgreSQL no stamp is ever compared with a run's read
    (``PostgresStore.complete_job``: replicas' clocks differ), so every ask while a job runs makes a second run;
    SQLite's comparable stamps are on the monotonic clock (``SqlStore.record_event``)."""
    return f"""job AS (
        INSERT INTO jobs (kind, key, order_id, global_id, state, run_at, asked_at, created_at, updated_at)
        SELECT %(job_kind)s, %(job_key)s, {order_id}, {global_id}, 'queued', %(run_at)s::float8, %(run_at)s::float8,
               %(now)s, %(now)s
        FROM {source}
        {JOB_REQUEUED}
        RETURNING 1
    ), woken AS (SELECT pg_notify('{JOBS_CHANNEL}', '') FROM job)"""


_INBOX_ROW = """inbox_row AS (
        INSERT INTO inbox (channel, kind, dedupe_key, order_id, global_id, outcome, payload, received_at)
        VALUES (%(channel)s, %(kind)s, %(dedupe_key)s, %(order_id)s::bigint, %(global_id)s::text, %(outcome)s,
                %(payload)s, %(now)s)
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING 1
    )"""

#: ``record_event`` for an order: the inbox row; only if it is new, the order (if unknown, with its
#: first-seen audit) and the order's job.
RECORD_ORDER_EVENT = f"""WITH {_INBOX_ROW}, new_order AS (
        INSERT INTO orders (id, state, source, global_id, first_seen_at, updated_at)
        SELECT %(order_id)s::bigint, %(state)s, %(channel)s, NULL, %(now)s, %(now)s FROM inbox_row
        ON CONFLICT (id) DO NOTHING
        RETURNING id
    ), first_seen AS (
        INSERT INTO audit (order_id, at, action, to_state, reason)
        SELECT id, %(now)s, 'transition', %(state)s, 'first seen via ' || %(channel)s FROM new_order
    ), {_job("inbox_row", "%(order_id)s::bigint", "NULL::text")}
    SELECT EXISTS (SELECT FROM inbox_row), (SELECT count(*) FROM woken)"""

#: ``record_event`` naming only an order group: the inbox row and, if new, the group's job.
RECORD_GROUP_EVENT = f"""WITH {_INBOX_ROW}, {_job("inbox_row", "NULL::bigint", "NULL::text")}
    SELECT EXISTS (SELECT FROM inbox_row), (SELECT count(*) FROM woken)"""

#: ``record_event`` of an event that queues nothing (ignored, or naming nothing to fetch).
RECORD_INBOX_ONLY = f"WITH {_INBOX_ROW} SELECT EXISTS (SELECT FROM inbox_row)"

#: ``begin_hold``: the pending hold; only if it is new, its inbox row (its audit row comes with its outcome).
#: False: the global id is known (the caller then reads it under a row lock: ``SqlStore._hold_again``).
BEGIN_HOLD = """WITH hold AS (
        INSERT INTO holds (global_id, remote_id, quantity, price, ticket_group_id, state, created_at, expires_at,
                           updated_at)
        VALUES (%(global_id)s, %(remote_id)s, %(quantity)s, %(price)s, %(ticket_group_id)s, 'pending', %(now)s,
                %(expires_at)s, %(now)s)
        ON CONFLICT (global_id) DO NOTHING
        RETURNING 1
    ), inbox_row AS (
        INSERT INTO inbox (channel, kind, dedupe_key, order_id, global_id, outcome, payload, received_at)
        SELECT %(channel)s, %(kind)s, %(dedupe_key)s, %(order_id)s::bigint, %(global_id)s, %(outcome)s, %(payload)s,
               %(now)s
        FROM hold
        ON CONFLICT (dedupe_key) DO NOTHING
    )
    SELECT EXISTS (SELECT FROM hold)"""

#: ``finish_hold``: under the hold's row lock, a hold TEvo released meanwhile stays released and whatever the
#: POS held is freed by a job; the update, its audit (``HoldRow.outcome_reason``'s words; written even for an
#: unknown hold, as on SQLite), the job if one is due, and the row as it now stands. ``(SELECT) AS one LEFT JOIN``: one row whether or not the
#: hold exists.
FINISH_HOLD = f"""WITH current AS (
        SELECT state FROM holds WHERE global_id = %(global_id)s FOR UPDATE
    ), outcome AS (
        SELECT CASE WHEN current.state = 'released' THEN 'released' ELSE %(state)s::text END AS state,
               current.state IS NOT DISTINCT FROM 'released' OR %(release)s::boolean AS release
        FROM (SELECT) AS one LEFT JOIN current ON true
    ), updated AS (
        UPDATE holds SET state = outcome.state, status = %(status)s, response = %(response)s, hold_id = %(hold_id)s,
                         reason = %(reason)s, updated_at = %(now)s
        FROM outcome WHERE holds.global_id = %(global_id)s
        RETURNING {HOLD_COLUMNS}
    ), finished AS (
        INSERT INTO audit (global_id, at, action, to_state, reason)
        SELECT %(global_id)s, %(now)s, 'hold', outcome.state,
               CASE WHEN updated.global_id IS NULL THEN %(reason)s::text
                    ELSE updated.quantity || ' x ' || updated.remote_id
                         || COALESCE(': ' || NULLIF(%(reason)s::text, ''), '')
               END
        FROM outcome LEFT JOIN updated ON true
    ), {_job("outcome WHERE outcome.release", "NULL::bigint", "%(global_id)s::text")}
    SELECT updated.*, (SELECT count(*) FROM woken) FROM (SELECT) AS one LEFT JOIN updated ON true"""


def _inbox(event: Event, now: str) -> dict[str, Any]:
    return {"channel": event.channel, "kind": event.kind, "dedupe_key": event.dedupe_key, "order_id": event.order_id,
            "global_id": event.global_id, "outcome": "ignored" if event.ignored else "queued",
            "payload": event.payload, "now": now}


def record_event(event: Event, source_state: str, now: str, run_at: float) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of ``record_event`` for an event with no global id beside its order id."""
    params = _inbox(event, now)
    if event.ignored or (event.order_id is None and event.order_group_id is None):
        return RECORD_INBOX_ONLY, params
    params["run_at"] = run_at
    if event.order_id is not None:
        params.update(state=source_state, job_kind=JobKind.ORDER.value, job_key=f"order:{event.order_id}")
        return RECORD_ORDER_EVENT, params
    params.update(job_kind=JobKind.ORDER_GROUP.value, job_key=f"group:{event.order_group_id}")
    return RECORD_GROUP_EVENT, params


def begin_hold(event: Event, remote_id: str, quantity: int, price: str | None, ticket_group_id: int | None,
               expires_at: str, now: str) -> dict[str, Any]:
    params = _inbox(event, now)
    params.update(remote_id=remote_id, quantity=quantity, price=price, ticket_group_id=ticket_group_id,
                  expires_at=expires_at)
    return params


def finish_hold(global_id: str, state: str, status: int, response: str, hold_id: str | None, reason: str | None,
                release_in_pos: bool, now: str, run_at: float) -> dict[str, Any]:
    return {"global_id": global_id, "state": state, "status": status, "response": response, "hold_id": hold_id,
            "reason": reason, "release": release_in_pos, "now": now, "run_at": run_at,
            "job_kind": JobKind.RELEASE_HOLD.value, "job_key": f"release:{global_id}"}


def hold_row(row: tuple[Any, ...]) -> HoldRow | None:
    """``FINISH_HOLD``'s row as a ``HoldRow``; None when no hold has the global id."""
    return HoldRow(*row[:len(_HOLD_FIELDS)]) if row[0] is not None else None
