"""Awaitable access to the store: every call runs on one dedicated thread, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tevo_bridge.store.sqlite import SqliteStore

T = TypeVar("T")


class AsyncStore:
    """``await store.call(SqliteStore.method, ...)`` or ``await store.<method>(...)``.

    One thread is enough: SQLite takes one writer at a time anyway, and keeping
    every transaction on one thread keeps them short and ordered.
    """

    def __init__(self, store: SqliteStore) -> None:
        self.sync = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.sync, name)
        if not callable(method):
            return method

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.call(method, *args, **kwargs)

        return call

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.sync.close()
