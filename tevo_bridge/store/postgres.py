"""The durable store on PostgreSQL: the store for more than one daemon process (``[store] url``).

*Why it shares ``SqlStore``'s statements:* the store's SQL is plain SQL that both databases run
(upserts, ``RETURNING``, CTEs), so each method's logic (what is recorded together, what is
refused) lives once (``store/statements.py``); ``PostgresConnector`` supplies PostgreSQL's
connections and transactions, and ``PostgresStore`` replaces only the statements where the two
dialects or the multi-process rules differ:

- transactions are ``SERIALIZABLE`` and retried on a serialization failure or deadlock, so two
  replicas running the same method at once behave as if one ran after the other, exactly as
  SQLite's single writer does (the same hold asked of two replicas: one inserts it, the retried
  other replays it);
- ``claim_job`` takes a job with ``FOR UPDATE SKIP LOCKED`` (replicas never wait on each other nor
  take the same job) and holds a session advisory lock on it for as long as it runs, on a
  connection of its own: a job whose lease ran out while its worker is alive is not taken twice,
  one whose replica died (its session ended) is, and at start-up ``requeue_running_jobs`` frees
  at once only the jobs nobody holds;
- the intake's three hot writes (a new hold, its outcome, a webhook's event) are one statement each,
  in autocommit (``store/pg_intake.py``): one round trip, and less driver work, per write; the daemon
  sends those that queue up together, in one transaction (``_run_together``, ``store/pg_aio.py``);
- every enqueue sends ``NOTIFY tevo_jobs`` with its commit (``listen_for_jobs`` wakes the workers
  of every replica), and every write that may settle an order ``NOTIFY tevo_settled`` with its id
  (a waiting Order Integration invoice call on any replica reads it: store/watch.py); ``try_lead`` is
  a lease row, so one replica polls TEvo.

The connections come from a ``psycopg_pool`` pool that checks a connection before lending it, so
after a database restart the store reconnects by itself.  The URL may carry a password: only
``mask_url(url)`` is ever shown.
"""

from __future__ import annotations

import functools
import random
import re
import select
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from tevo_bridge.clock import now_iso

# The URL helpers live below config (dburl.py); re-exported for the callers that reach them here.
from tevo_bridge.dburl import is_postgres_url as is_postgres_url
from tevo_bridge.dburl import mask_url as mask_url
from tevo_bridge.dburl import url_password as url_password
from tevo_bridge.store import pg_intake
from tevo_bridge.store.pg_intake import JOBS_CHANNEL as JOBS_CHANNEL
from tevo_bridge.store.pg_schema import PG_MIGRATIONS
from tevo_bridge.store.statements import ALWAYS_RERUN, SqlStore
from tevo_bridge.store.vocabulary import (
    PG_SCHEMA_VERSION,
    Backend,
    Event,
    HoldRow,
    Job,
    JobKind,
    OrderState,
    StoreBusy,
    StoreError,
    StoreUnavailable,
)
from tevo_bridge.store.watch import SETTLED_CHANNEL, settles

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.rows import tuple_row
    from psycopg_pool import ConnectionPool, PoolTimeout

    READ_COMMITTED = psycopg.IsolationLevel.READ_COMMITTED
except ImportError:  # pragma: no cover - the `postgresql` extra is not installed
    psycopg = None  # type: ignore[assignment]  # optional extra: every use checks for None first

#: The first key of every advisory lock tevo-bridge takes ("tevo" in ASCII), so they never collide
#: with another application's on the same database.
LOCK_SPACE = 1952805748

#: After the database could not be reached, calls fail at once for this long before one tries again.
UNREACHABLE_PAUSE = 1.0

#: How many times a transaction that lost a serialization race is run again before the error is raised.
RETRIES = 12

T = TypeVar("T")


def inspect_database(url: str, timeout: float = 5.0) -> int:
    """The schema version of the PostgreSQL store at ``url`` (0: no tevo-bridge tables yet), changing nothing.

    Raises ``StoreError`` (the URL masked) when it cannot be reached or a newer tevo-bridge wrote it.
    """
    if psycopg is None:
        raise StoreError("the PostgreSQL driver is not installed. Fix: pip install 'tevo-bridge[postgresql]'.")
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout))) as conn:
            exists = conn.execute("SELECT to_regclass('tevo_schema')").fetchone()
            if exists is None or exists[0] is None:
                return 0
            row = conn.execute("SELECT version FROM tevo_schema").fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"cannot use PostgreSQL at {mask_url(url)}: {str(exc).strip()}. Fix: check that the server "
                         f"runs and [store] url (host, port, user, database, password).") from exc
    version = row[0] if row else 0
    if version > PG_SCHEMA_VERSION:
        raise StoreError(_too_new(url, version))
    return version


def _too_new(url: str, version: int) -> str:
    return (f"the PostgreSQL store at {mask_url(url)} has PostgreSQL schema version {version}, but this tevo-bridge "
            f"knows PostgreSQL schema versions up to {PG_SCHEMA_VERSION}: a newer tevo-bridge wrote it. Nothing was changed. Fix: upgrade "
            f"tevo-bridge on this host (pip install -U 'tevo-bridge[postgresql]').")


class _Row(tuple[Any, ...]):  # noqa: SLOT001 - each row carries its column names
    """A row by position and by column name, like ``sqlite3.Row`` (the shared SQL reads both ways)."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor: Any) -> Callable[[Any], _Row]:
    names = tuple(column.name for column in cursor.description or ())

    def make(values: Any) -> _Row:
        row = _Row(values)
        row.names = names
        return row

    return make


class _Conn:
    """A psycopg connection that takes the shared SQL's placeholders (``?`` and ``:name``)."""

    _NAMED = re.compile(r"(?<![:\w]):([a-z_]+)")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.pipeline: Any = None  # set while this connection's transaction runs in pipeline mode

    def execute(self, sql: str, params: Any = ()) -> Any:
        cursor = self.raw.execute(sql) if not params else self.raw.execute(
            _placeholders(sql, isinstance(params, Mapping)), params)
        return cursor if self.pipeline is None else _Pending(cursor, self.pipeline)


class _Pending:
    """A statement's cursor in pipeline mode: its row count is known only once the results sent so far are back,
    so reading it waits for them (one round trip for every statement queued); fetching already does."""

    __slots__ = ("_cursor", "_pipeline")

    def __init__(self, cursor: Any, pipeline: Any) -> None:
        self._cursor, self._pipeline = cursor, pipeline

    @property
    def rowcount(self) -> int:
        self._pipeline.sync()
        count: int = self._cursor.rowcount
        return count

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> Any:
        return self._cursor.fetchall()


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str, named: bool) -> str:
    """The shared SQL in psycopg's placeholders; cached, since the store sends the same few dozen statements
    over and over and the rewrite was a measurable share of a hold's CPU on PostgreSQL."""
    sql = sql.replace("%", "%%")
    return _Conn._NAMED.sub(r"%(\1)s", sql) if named else sql.replace("?", "%s")


class PostgresConnector:
    """A pool of PostgreSQL connections; ``with lock:`` borrows one for this thread (re-entrant).

    Where SQLite has one connection behind one lock, each thread of the daemon's store executor
    works on its own connection here, so PostgreSQL runs their transactions side by side.
    """

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._local = threading.local()
        self._unreachable_at: float | None = None
        self._reached_at = 0.0

    @property
    def depth(self) -> int:
        return getattr(self._local, "depth", 0)

    @property
    def read_committed(self) -> bool:
        return getattr(self._local, "read_committed", False)

    @contextmanager
    def reading_committed(self) -> Iterator[None]:
        """This thread's next transaction runs at READ COMMITTED (see ``PostgresStore._READ_COMMITTED``)."""
        self._local.read_committed = True
        try:
            yield
        finally:
            self._local.read_committed = False

    @property
    def conn(self) -> _Conn:
        conn: _Conn | None = getattr(self._local, "conn", None)
        if conn is None:
            raise RuntimeError("no connection checked out on this thread")
        return conn

    @property
    def lock(self) -> PostgresConnector:
        return self

    @property
    def pool(self) -> Any:
        return self._pool

    @contextmanager
    def transaction(self) -> Iterator[_Conn]:
        with self:
            conn = self.conn
            outermost = self.depth == 1 and conn.raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            if self.read_committed and outermost:
                with _pipelined_transaction(conn):
                    yield conn
                return
            with conn.raw.transaction():  # a SAVEPOINT when already inside a batch's transaction
                yield conn

    def make_durable(self) -> None:
        """Nothing to do: a PostgreSQL COMMIT returns once its WAL is flushed."""

    @contextmanager
    def batch(self, *, savepoints: bool = True, durable: bool = True) -> Iterator[None]:
        """One transaction around every call inside (each its own savepoint, whatever ``savepoints`` says).

        The daemon does not batch on PostgreSQL (``AsyncStore`` with several threads): PostgreSQL
        already flushes the WAL of concurrent commits together, and one transaction per call keeps
        row locks short and lets a serialization conflict be retried.
        """
        with self.transaction():
            yield

    def __enter__(self) -> PostgresConnector:
        if self.depth == 0:
            self._local.conn = _Conn(self.getconn())
        self._local.depth = self.depth + 1
        return self

    def getconn(self) -> Any:
        """A checked connection; fails at once for a moment after the database could not be reached.

        Without that, while PostgreSQL is down every call (each worker's claim, every request)
        would wait the pool's whole timeout on one of the store's few threads, and an answer
        as cheap as ``/readyz``'s 503 would queue behind them all.
        """
        failed_at = self._unreachable_at
        if failed_at is not None and time.monotonic() - failed_at < UNREACHABLE_PAUSE:
            raise PoolTimeout(f"PostgreSQL could not be reached {time.monotonic() - failed_at:.1f} s ago; "
                              f"trying again {UNREACHABLE_PAUSE:g} s after that")
        asked_at = time.monotonic()
        try:
            conn = self._pool.getconn()
        except PoolTimeout:
            if self._reached_at < asked_at:  # no call got through meanwhile: the database is down, not back
                self._unreachable_at = time.monotonic()
            raise
        self._unreachable_at, self._reached_at = None, time.monotonic()
        return conn

    def __exit__(self, *exc_info: Any) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            conn, self._local.conn = self._local.conn, None
            self._pool.putconn(conn.raw)


def _configure(conn: Any) -> None:
    conn.row_factory = _row_factory
    conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE


@contextmanager
def _isolation(raw: Any, level: Any) -> Iterator[None]:
    """The next transaction's isolation level, sent in its ``BEGIN``: a ``SET TRANSACTION`` after it would be one
    more round trip per transaction (psycopg composes ``BEGIN ISOLATION LEVEL ...`` from the connection's setting,
    changing which costs no round trip outside a transaction)."""
    if level is None:
        yield
        return
    raw.isolation_level = level
    try:
        yield
    finally:
        if raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:  # a broken connection stays as it is
            raw.isolation_level = psycopg.IsolationLevel.SERIALIZABLE


@contextmanager
def _pipelined_transaction(conn: _Conn) -> Iterator[None]:
    """A hot intake transaction (``PostgresStore._READ_COMMITTED``) in psycopg's pipeline mode: its ``BEGIN`` goes
    out with its first statement and its ``COMMIT`` with its last ones, and the program waits only where it reads
    a result (``_Pending``). The pipeline's end waits for every result, the ``COMMIT``'s included, so the caller
    hears back only once the transaction is durable; an error in any statement raises there at the latest, and
    the transaction is rolled back. (psycopg's own ``transaction()`` inside a pipeline waits after its ``BEGIN``
    and before its ``COMMIT``: two round trips this saves.)"""
    raw = conn.raw
    try:
        with raw.pipeline() as pipeline:
            conn.pipeline = pipeline
            raw.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            yield
            raw.execute("COMMIT")
    finally:
        conn.pipeline = None
        if not raw.closed and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with suppress(psycopg.Error):
                raw.execute("ROLLBACK")


def _check_without_round_trip(conn: Any) -> None:
    """The pool's check before lending a connection, without a round trip in the common case.

    ``ConnectionPool.check_connection`` sends an empty query: one network wait on every checkout, so
    one more per transaction on the hot path. An idle connection's socket has nothing to read unless
    the server spoke unasked, and that is almost always the end of the session (a restart, a
    terminated backend: its FATAL message, then end-of-file); only then, or when libpq already knows
    the connection is bad, is the full check run, which fails and makes the pool replace it. A
    connection that breaks after this check fails its call, as it could after the full check too.
    """
    pgconn = conn.pgconn
    if pgconn.status == psycopg.pq.ConnStatus.OK and not _readable(pgconn.socket):
        return
    ConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _retrying(method: Callable[..., T]) -> Callable[..., T]:
    """Run the method again when PostgreSQL aborted its transaction for a concurrent one (never inside a batch,
    whose transaction the caller owns)."""

    @functools.wraps(method)
    def call(self: PostgresStore, *args: Any, **kwargs: Any) -> T:
        for attempt in range(RETRIES):
            try:
                return method(self, *args, **kwargs)
            except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected) as exc:
                if self._db.depth > 0:
                    raise
                if attempt == RETRIES - 1:
                    raise StoreBusy(f"{method.__name__}: {RETRIES} attempts lost to concurrent transactions") from exc
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))
            except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
                if self._db.depth > 0:
                    raise
                # The database is down or the connection broke: a StoreError, which the HTTP layer answers 503
                # as a complete response (a crash would also close the connection a balancing proxy reuses).
                raise StoreUnavailable(f"{method.__name__}: PostgreSQL cannot be reached "
                                       f"({type(exc).__name__})") from exc
        raise AssertionError("unreachable")

    return call


class PostgresStore(SqlStore):
    """A pool of connections to one PostgreSQL database, shared by any number of daemon processes."""

    backend: Backend = "PostgreSQL"
    _db: PostgresConnector

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 16, timeout: float = 3.0) -> None:
        """Connect (waiting up to ``timeout`` for the first connection) and migrate.

        ``max_size`` bounds the connections: the store's threads, plus one per job running (see ``claim_job``).
        """
        if psycopg is None:
            raise StoreError("[store] url names PostgreSQL, but the PostgreSQL driver is not installed. "
                             "Fix: pip install 'tevo-bridge[postgresql]'.")
        self.url = url
        self.path = Path("postgresql")  # the SQLite store's file attribute: nothing on disk here, and nothing reads it
        self._pool = pool = ConnectionPool(url, min_size=min_size, max_size=max_size, timeout=timeout, open=False,
                                    kwargs={"autocommit": True}, configure=_configure,
                                    check=_check_without_round_trip, name="tevo-bridge-store")
        self._db = PostgresConnector(pool)
        self._running: dict[Job, Any] = {}  # a claim (id and lease) -> the connection holding its advisory lock
        self._running_lock = threading.Lock()
        try:
            self._pool.open(wait=True, timeout=timeout)
            self._migrate()
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(f"cannot reach PostgreSQL at {mask_url(url)} within {timeout:g} s. Fix: check that the "
                             f"server runs and [store] url (host, port, user, database, password).") from exc
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        with self._running_lock:
            held, self._running = list(self._running.values()), {}
        for conn in held:
            with suppress(Exception):
                self._pool.putconn(conn)
        self._pool.close()

    #: The hot intake writes, run at READ COMMITTED instead of SERIALIZABLE. Each is upserts of rows by key
    #: and, for a hold already known, a read of that one row under ``FOR UPDATE`` (``_hold``): a row lock
    #: gives them what SERIALIZABLE did, and they stop aborting each other. Under SERIALIZABLE, concurrent
    #: holds and webhooks touch neighbouring index pages, PostgreSQL's predicate locks see a conflict in
    #: that, and at 64 concurrent holds the retries ran out (answered 503) while throughput collapsed.
    #: ``record_from_audit`` (the notifier's read of recent transitions) too: its inserts are keyed and its cursor
    #: only moves forward, and at SERIALIZABLE its read of the audit index would add conflicts to the pipeline's.
    #: The first three are one statement each now (store/pg_intake.py): this still sets the isolation of
    #: a repeated hold's transaction and of an event that names both an order and a global id.
    _READ_COMMITTED = ("record_event", "begin_hold", "finish_hold", "record_from_audit",
                      "renew_job")  # renew_job: one fenced row

    # The intake's hot writes: one statement each (store/pg_intake.py says why and what stays the same). Each is
    # planned (its statement, and how its row answers the call) apart from being run, so that the store's intake
    # threads can send several callers' plans in one transaction (``_run_together``, store/pg_aio.py).

    def record_event(self, event: Event, source_state: str = OrderState.NEW) -> bool:
        plan = self._plan_record_event(event, source_state)
        if plan is None:
            return super().record_event(event, source_state)  # merges the global id into a known order
        return plan.answer(self._one_statement(plan.sql, plan.params))

    def begin_hold(self, event: Event, remote_id: str, quantity: int, price: str | None,
                   ticket_group_id: int | None, expires_at: str) -> HoldRow | None:
        plan = self._plan_begin_hold(event, remote_id, quantity, price, ticket_group_id, expires_at)
        return plan.answer(self._one_statement(plan.sql, plan.params))

    def finish_hold(self, global_id: str, state: str, status: int, response: str, *, hold_id: str | None = None,
                    reason: str | None = None, release_in_pos: bool = False) -> HoldRow | None:
        plan = self._plan_finish_hold(global_id, state, status, response, hold_id=hold_id, reason=reason,
                                      release_in_pos=release_in_pos)
        return plan.answer(self._one_statement(plan.sql, plan.params))

    def _plan_record_event(self, event: Event, source_state: str = OrderState.NEW) -> Planned[bool] | None:
        """``record_event`` as one statement; None for an event naming both an order and a global id (a transaction)."""
        if event.order_id is not None and event.global_id is not None and not event.ignored:
            return None
        sql, params = pg_intake.record_event(event, source_state, now_iso(), time.time())
        return Planned(sql, params, _first_as_bool)

    def _plan_begin_hold(self, event: Event, remote_id: str, quantity: int, price: str | None,
                         ticket_group_id: int | None, expires_at: str) -> Planned[HoldRow | None]:
        """A new hold in one statement; a repeat (the statement inserted nothing) is read and decided after it, in a
        transaction of its own under the row lock (``_hold_again_alone``)."""
        now = now_iso()
        params = pg_intake.begin_hold(event, remote_id, quantity, price, ticket_group_id, expires_at, now)
        global_id = event.global_id or ""

        def answer(row: tuple[Any, ...]) -> HoldRow | None:
            return None if row[0] else self._hold_again_alone(global_id, remote_id, quantity, now)

        return Planned(pg_intake.BEGIN_HOLD, params, answer)

    def _plan_finish_hold(self, global_id: str, state: str, status: int, response: str, *,
                          hold_id: str | None = None, reason: str | None = None,
                          release_in_pos: bool = False) -> Planned[HoldRow | None]:
        params = pg_intake.finish_hold(global_id, state, status, response, hold_id, reason, release_in_pos,
                                       now_iso(), time.time())
        return Planned(pg_intake.FINISH_HOLD, params, pg_intake.hold_row)

    def _run_together(self, plans: Sequence[Planned[Any]]) -> list[tuple[Any, ...]]:
        """Several plans' statements in ONE transaction at READ COMMITTED, sent in one pipeline with its ``BEGIN`` and
        ``COMMIT``: one round trip and one commit for all; each statement's row, in order, once the COMMIT is back.

        Each statement's outcome is the one it has alone (pg_intake: each decides its conflicts on the rows' latest
        committed versions, and at READ COMMITTED each statement of a transaction takes a fresh snapshot, so a later
        plan sees an earlier one's rows as if it had committed first). If any statement fails, nothing is kept and
        the error is raised (the caller then runs each call alone)."""
        with self._db as db:
            conn = db.conn
            with _pipelined_transaction(conn):
                cursors = [conn.raw.cursor(row_factory=tuple_row).execute(plan.sql, plan.params) for plan in plans]
        rows: list[tuple[Any, ...]] = [cursor.fetchone() for cursor in cursors]
        return rows

    def _hold_again_alone(self, global_id: str, remote_id: str, quantity: int, now: str) -> HoldRow:
        with self._tx() as conn:  # a repeat: read, then decide, under the row lock
            return self._hold_again(conn, global_id, remote_id, quantity, now)

    def _one_statement(self, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """One statement's one row, as a plain tuple. In autocommit it is its own transaction, durable when this
        returns; inside a caller's transaction (a batch) it is part of that one."""
        with self._db as db:
            row: tuple[Any, ...] | None = db.conn.raw.cursor(row_factory=tuple_row).execute(sql, params).fetchone()
        assert row is not None  # each of these statements ends in a SELECT of one row
        return row

    def _hold(self, conn: Any, global_id: str) -> HoldRow | None:
        if not self._db.read_committed:
            return super()._hold(conn, global_id)
        row = conn.execute("SELECT * FROM holds WHERE global_id = ? FOR UPDATE", (global_id,)).fetchone()
        return HoldRow(**dict(row)) if row else None

    def _migrate(self) -> None:
        """Bring the schema to ``PG_SCHEMA_VERSION`` under an advisory lock: replicas starting together wait."""
        while True:
            with self._tx() as conn:
                conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_SPACE}, 0)")
                conn.execute("CREATE TABLE IF NOT EXISTS tevo_schema (version INTEGER NOT NULL)")
                row = conn.execute("SELECT version FROM tevo_schema").fetchone()
                version = row[0] if row else 0
                if version > PG_SCHEMA_VERSION:
                    raise StoreError(_too_new(self.url, version))
                if version == PG_SCHEMA_VERSION:
                    return
                for statement in PG_MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("DELETE FROM tevo_schema")
                conn.execute("INSERT INTO tevo_schema (version) VALUES (?)", (version + 1,))

    @property
    def schema_version(self) -> int:
        with self._lock:
            version: int = self._conn.execute("SELECT version FROM tevo_schema").fetchone()[0]
            return version

    # Jobs: the dialect's statements and the cross-process rules -----------------------------------

    def _enqueue(self, conn: Any, kind: JobKind, key: str, order_id: int | None, global_id: str | None,
                 run_at: float, now: str, *, asked_at: float = ALWAYS_RERUN) -> None:
        with self._pipelined(conn):  # one round trip for both
            super()._enqueue(conn, kind, key, order_id, global_id, run_at, now, asked_at=asked_at)
            conn.execute(f"NOTIFY {JOBS_CHANNEL}")  # delivered at COMMIT, to every replica listening

    def _update_order(self, conn: Any, order_id: int, state: str | None, reason: str | None,
                      fields: dict[str, Any]) -> None:
        """As ``SqlStore``'s; a write that may settle the order also tells every replica, at COMMIT, so an Order
        Integration invoice call waiting on another replica reads it at once (store/watch.py)."""
        super()._update_order(conn, order_id, state, reason, fields)
        if settles(state, fields):
            conn.execute(f"NOTIFY {SETTLED_CHANNEL}, '{int(order_id)}'")

    def _pipelined(self, conn: Any) -> AbstractContextManager[Any]:
        """psycopg's pipeline mode: the statements go out together, and the first read (or the block's end) waits
        once for all their results. An error in any of them raises there and aborts the transaction."""
        if conn.pipeline is not None:  # the whole transaction is pipelined already: an inner block would wait
            return nullcontext()
        pipeline: AbstractContextManager[Any] = conn.raw.pipeline()
        return pipeline

    def claim_job(self, lease_seconds: float) -> Job | None:
        """Take the most overdue job nobody runs, and keep it locked on a connection of its own until it ends.

        ``SKIP LOCKED``: a row another replica is claiming this instant is passed over, not waited
        for.  The session advisory lock is what makes "one worker per job" hold past the lease: a
        lapsed lease is taken over only when no live session holds the job, and PostgreSQL drops the
        lock the moment a dead replica's connection goes.
        """
        holder = self._db.getconn()
        try:
            job = self._claim_on(holder, lease_seconds)
        except BaseException:
            self._pool.putconn(holder)
            raise
        if job is None:
            self._pool.putconn(holder)
            return None
        with self._running_lock:
            self._running[job] = holder
        return job

    def _claim_on(self, raw: Any, lease_seconds: float) -> Job | None:
        conn = _Conn(raw)
        now = time.time()
        with _isolation(raw, READ_COMMITTED), raw.transaction():  # the queue pattern SKIP LOCKED is for
            candidates = conn.execute(
                "SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?) "
                "ORDER BY run_at LIMIT 16 FOR UPDATE SKIP LOCKED", (now, now)).fetchall()
            for (job_id,) in candidates:
                if not conn.execute("SELECT pg_try_advisory_lock(?, ?)", (LOCK_SPACE, _lock_key(job_id))).fetchone()[0]:
                    continue  # its worker is alive, only slow: not taken twice
                try:
                    row = conn.execute(
                        "UPDATE jobs SET state = 'running', lease_until = ?, asked_at = NULL, updated_at = ? WHERE id = ? "
                        "RETURNING id, kind, key, order_id, global_id, attempts, lease_until",
                        (now + lease_seconds, now_iso(), job_id)).fetchone()
                except BaseException:
                    conn.execute("SELECT pg_advisory_unlock(?, ?)", (LOCK_SPACE, _lock_key(job_id)))
                    raise
                return Job(**dict(row))
        return None

    def _release_job(self, job: Job) -> None:
        with self._running_lock:
            holder = self._running.pop(job, None)
        if holder is None:
            return
        with suppress(psycopg.Error):  # a broken connection: its session, and so the lock, is gone already
            holder.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SPACE, _lock_key(job.id)))
        self._pool.putconn(holder)

    # The job's end, as in SqlStore, then its advisory lock and connection go back.

    def renew_job(self, job: Job, lease_seconds: float) -> Job | None:
        """As in SqlStore; the advisory lock's connection then stands for the renewed claim."""
        renewed = super().renew_job(job, lease_seconds)
        if renewed is not None:
            with self._running_lock:
                holder = self._running.pop(job, None)
                if holder is not None:
                    self._running[renewed] = holder
        return renewed

    def abandon_job(self, job: Job) -> None:
        """Let go of the job's advisory lock, so it is taken again when its lease ends (a live lock would
        keep it from every replica for as long as this process runs)."""
        self._release_job(job)

    def complete_job(self, job: Job, read_at: float | None = None) -> None:
        """As in SqlStore, but every ask while the job ran queues it again, however old: an ask's stamp is the
        clock of the replica that took the news, not this one's, so "before the read" cannot be told exactly
        here (the database's own clock would cost a round trip before every read)."""
        try:
            super().complete_job(job)
        finally:
            self._release_job(job)

    def retry_job(self, job: Job, error: str, delay: float) -> None:
        try:
            super().retry_job(job, error, delay)
        finally:
            self._release_job(job)

    def snooze_job(self, job: Job, note: str, delay: float) -> None:
        try:
            super().snooze_job(job, note, delay)
        finally:
            self._release_job(job)

    def fail_job(self, job: Job, error: str, *, review: bool = False) -> None:
        try:
            super().fail_job(job, error, review=review)
        finally:
            self._release_job(job)

    def requeue_running_jobs(self) -> int:
        """Jobs left running by a replica that died: those no live session holds, whatever their lease says.

        Other replicas may be running jobs right now; theirs hold their advisory locks and stay.
        """
        with self._tx() as conn:
            requeued: int = conn.execute(
                "UPDATE jobs SET state = 'queued', lease_until = NULL, run_at = ?, updated_at = ? "
                "WHERE state = 'running' AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.classid::bigint = ? AND l.objid::bigint = jobs.id % 2147483647 AND l.objsubid = 2)",
                (time.time(), now_iso(), LOCK_SPACE)).rowcount
        return requeued

    def try_lead(self, name: str, holder: str, lease_seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``holder``; False while another holder's lease runs."""
        now = time.time()
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET holder = excluded.holder, until = excluded.until "
                "WHERE leases.holder = excluded.holder OR leases.until < ? RETURNING holder",
                (name, holder, now + lease_seconds, now)).fetchone()
        return row is not None


@dataclass(frozen=True, slots=True)
class Planned(Generic[T]):
    """One hot write as its statement and how its row answers the call (``PostgresStore._plan_*``)."""

    sql: str
    params: Mapping[str, Any]
    answer: Callable[[tuple[Any, ...]], T]


def _first_as_bool(row: tuple[Any, ...]) -> bool:
    return bool(row[0])


def _lock_key(job_id: int) -> int:
    """The advisory lock's second key (an int4) for a job id."""
    return job_id % 2147483647


# Every public method runs again if PostgreSQL aborted it for a concurrent transaction.
def _reading_committed(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def call(self: PostgresStore, *args: Any, **kwargs: Any) -> T:
        if self._db.depth > 0:  # inside a caller's transaction: its isolation stands
            return method(self, *args, **kwargs)
        with self._db.reading_committed():
            return method(self, *args, **kwargs)

    return call


for _name in [n for n in dir(PostgresStore) if not n.startswith("_")]:
    _method = getattr(PostgresStore, _name)
    if callable(_method) and _name not in ("close", "batch", "claim_job", "abandon_job"):
        if _name in PostgresStore._READ_COMMITTED:
            _method = _reading_committed(_method)
        setattr(PostgresStore, _name, _retrying(_method))


# For the intake threads (store/pg_aio.py): a batch PostgreSQL aborted for a concurrent transaction runs again
# whole, an unreachable database is StoreUnavailable; a repeated hold found by a batch is read and decided in a
# transaction of its own, as ``begin_hold`` does.
PostgresStore._run_together = _retrying(PostgresStore._run_together)  # type: ignore[method-assign]
PostgresStore._hold_again_alone = _retrying(_reading_committed(PostgresStore._hold_again_alone))  # type: ignore[method-assign]


def listen_for_jobs(url: str, on_notify: Callable[[], None], stop: threading.Event,
                    reconnect_after: float = 1.0, on_settled: Callable[[int | None], None] | None = None) -> None:
    """Call ``on_notify`` whenever any replica commits a job (``NOTIFY tevo_jobs``), and ``on_settled(order_id)``
    whenever one commits a write that may settle an order (``NOTIFY tevo_settled``, store/watch.py), until
    ``stop`` is set.

    Runs on a thread of its own with a connection of its own (a pooled one would be lent to others
    between notifications).  After a lost connection it reconnects, and calls ``on_notify`` and
    ``on_settled(None)`` (any order) once on every (re)connect, since whatever was committed while it
    was away sent no notification it heard.
    """
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"LISTEN {JOBS_CHANNEL}")
                if on_settled is not None:
                    conn.execute(f"LISTEN {SETTLED_CHANNEL}")
                    on_settled(None)
                on_notify()
                while not stop.is_set():
                    for notice in conn.notifies(timeout=0.5, stop_after=1):
                        if notice.channel == SETTLED_CHANNEL and on_settled is not None:
                            on_settled(int(notice.payload))
                        else:
                            on_notify()
        except psycopg.Error:
            stop.wait(reconnect_after)
