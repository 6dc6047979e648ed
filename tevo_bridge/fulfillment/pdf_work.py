"""PDF work (reading, page selection, splitting, merging) runs here, never on the event loop.

pypdf is pure Python: a 2,000-page ticket file takes a few hundred milliseconds to open and
cut, and on the loop that is time every hold and invoice answer waits (issue 20, item 10).
A small pool of its own, not the loop's default executor: PDF jobs cannot crowd out DNS
look-ups and the other short ``to_thread`` calls, and at most ``WORKERS`` files are parsed
at once whatever the number of orders fulfilling, which bounds the memory they take.  Its
threads are daemon threads (``WorkerPool``, as for POS hooks): a malformed PDF that sends
pypdf into a loop must not keep the daemon from stopping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from tevo_bridge.pos.workers import WorkerPool

__all__ = ["THREAD_PREFIX", "WORKERS", "off_loop"]

P = ParamSpec("P")
R = TypeVar("R")

WORKERS = 2
THREAD_PREFIX = "tevo-pdf"

_pool = WorkerPool(WORKERS, THREAD_PREFIX)


async def off_loop(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` on a PDF worker thread; the loop keeps answering meanwhile."""
    return await asyncio.wrap_future(_pool.submit(fn, *args, **kwargs))
