"""PDF work (reading, page selection, splitting, merging) runs here, never on the event loop.

pypdf is pure Python: a 2,000-page ticket file takes a few hundred milliseconds to open and
cut, and on the loop that is time every hold and invoice answer waits (issue 20, item 10).
A small pool of its own, not the loop's default executor: PDF jobs cannot crowd out DNS
look-ups and the other short ``to_thread`` calls, and at most ``WORKERS`` files are parsed
at once whatever the number of orders fulfilling, which bounds the memory they take.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["THREAD_PREFIX", "WORKERS", "off_loop"]

P = ParamSpec("P")
R = TypeVar("R")

WORKERS = 2
THREAD_PREFIX = "tevo-pdf"

_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=THREAD_PREFIX)


async def off_loop(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` on a PDF worker thread; the loop keeps answering meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool, functools.partial(fn, *args, **kwargs))
