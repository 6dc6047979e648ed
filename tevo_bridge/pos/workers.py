"""A small pool of daemon threads for running plugin hooks.

Not ``concurrent.futures.ThreadPoolExecutor``: its threads are joined when the interpreter
exits, so one hook hung on a dead POS connection would keep the daemon from ever stopping.
Here an abandoned call dies with the process. The futures are ordinary
``concurrent.futures.Future`` objects, so callers can wait on them or attach callbacks.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class WorkerPool:
    """At most ``size`` threads, started only when a call finds none idle."""

    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one thread")
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            self._queue.put((future, fn, args, kwargs))
            if self._idle == 0 and len(self._threads) < self._size:
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1
        return future

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            future, fn, args, kwargs = job
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._lock:
                self._idle += 1

    def close(self) -> None:
        """Stop idle threads once the queued calls are done; never waits for a hung one."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for _ in self._threads:
                self._queue.put(_STOP)
