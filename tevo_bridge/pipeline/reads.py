"""When a job run last read the order from TEvo: the moment the run's outcome rests on.

News that comes while a job runs queues it again (``rerun``), because it may postdate what the run read.
News the store stamped before the run's last read was sent cannot: that read already shows what the news
was about (TEvo changed the order, then told us, then we asked). So the worker hands this moment to
``complete_job``, which queues the job again only for an ask at the same moment or later.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


class LastRead:
    """One job run's: when (``time.time()``) its latest read of the order was sent, None before any answered."""

    def __init__(self) -> None:
        self.sent_at: float | None = None


_RUN: ContextVar[LastRead | None] = ContextVar("tevo_bridge_last_read", default=None)


@contextmanager
def recorded() -> Iterator[LastRead]:
    """Around one job run: the reads it makes (``reading``) are noted on the ``LastRead`` yielded."""
    run = LastRead()
    token = _RUN.set(run)
    try:
        yield run
    finally:
        _RUN.reset(token)


async def reading(fetch: Awaitable[T]) -> T:
    """Await ``fetch``, a read of the order whose answer the run acts on; once it answered, it is the run's
    latest read. The clock is read before the request can go out, so the moment noted is never late."""
    sent_at = time.time()
    answer = await fetch
    run = _RUN.get()
    if run is not None:
        run.sent_at = sent_at
    return answer
