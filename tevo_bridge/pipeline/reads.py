"""What one job run has read: when it last read the order from TEvo, and what it may use twice.

News that comes while a job runs queues it again (``rerun``), because it may postdate what the run read.
News the store stamped before the run's last read was sent cannot: that read already shows what the news
was about (TEvo changed the order, then told us, then we asked). So the worker hands this moment to
``complete_job``, which queues the job again only for an ask at the same moment or later.

A run may also keep what it got from the POS for a later step of the same run (the e-ticket pages the
check before accepting chose, which fulfilment uploads a moment later): kept for one run only, so a retry
or a run after a crash asks again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


class RunReads:
    """One job run's: when (``time.monotonic()``, the clock news is stamped on, store/statements.py) its latest read of the order was sent (None before any answered),
    and what it kept for its later steps."""

    def __init__(self) -> None:
        self.sent_at: float | None = None
        self.kept: dict[Hashable, object] = {}


_RUN: ContextVar[RunReads | None] = ContextVar("tevo_bridge_run_reads", default=None)


@contextmanager
def recorded() -> Iterator[RunReads]:
    """Around one job run: the reads it makes (``reading``) and what it keeps (``keep``) go on the one yielded."""
    run = RunReads()
    token = _RUN.set(run)
    try:
        yield run
    finally:
        _RUN.reset(token)


async def reading(fetch: Awaitable[T]) -> T:
    """Await ``fetch``, a read of the order whose answer the run acts on; once it answered, it is the run's
    latest read. The clock is read before the request can go out, so the moment noted is never late."""
    sent_at = time.monotonic()  # system-wide on Linux, never stepped: a wall clock set back would skip a run
    answer = await fetch
    run = _RUN.get()
    if run is not None:
        run.sent_at = sent_at
    return answer


def keep(key: Hashable, value: object) -> None:
    """Keep ``value`` for the rest of this job run (outside a run, nothing is kept)."""
    run = _RUN.get()
    if run is not None:
        run.kept[key] = value


def kept(key: Hashable) -> object | None:
    """What this job run kept under ``key``, if anything."""
    run = _RUN.get()
    return None if run is None else run.kept.get(key)
