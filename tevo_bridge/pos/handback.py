"""Hook calls hand their outcomes back to the event loop together, not one wake-up each.

``asyncio.wrap_future`` costs every finished hook call its own ``call_soon_threadsafe`` (a
wake-up of the loop) and a chain of callbacks on both sides, and ``asyncio.wait`` around it a
second future, a set and a callback more. Under load (sixteen OI holds in flight) the hook
threads finish close together: here each finished call is appended to one list per loop, and
only the thread that finds that list empty schedules the loop's one pass that settles them
all, as the store thread hands back a whole batch at once (``AsyncStore._hand_back``).

The hook's own ``concurrent.futures.Future`` is untouched: the caller still reads the outcome,
cancels a call that timed out, or waits on it later (``PosTimeout.future``) as before.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from concurrent.futures import Future
from functools import partial
from typing import Any


class HandBack:
    """The finished hook calls of one event loop, waiting for its next settling pass."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: the registry below is keyed weakly by the loop, which a strong reference here would keep alive.
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._finished: list[asyncio.Future[bool]] = []

    def attach(self, future: Future[Any], waiter: asyncio.Future[bool]) -> None:
        """Set ``waiter`` (on this loop) to True once ``future`` is done, in a pass shared with the others."""
        future.add_done_callback(partial(self._done, waiter))

    def _done(self, waiter: asyncio.Future[bool], _future: Future[Any]) -> None:
        # On the hook's thread (or on the loop, if the call was already over when attached).
        with self._lock:
            first = not self._finished
            self._finished.append(waiter)
        if not first:
            return  # the pass already scheduled will settle this one too
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("event loop gone")
            loop.call_soon_threadsafe(self._settle)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            with self._lock:
                self._finished.clear()

    def _settle(self) -> None:
        with self._lock:
            finished, self._finished = self._finished, []
        for waiter in finished:
            if not waiter.done():  # timed out or cancelled meanwhile: the caller has moved on
                waiter.set_result(True)


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HandBack] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def _hand_back(loop: asyncio.AbstractEventLoop) -> HandBack:
    found = _BY_LOOP.get(loop)
    if found is None:
        with _REGISTRY_LOCK:
            found = _BY_LOOP.setdefault(loop, HandBack(loop))
    return found


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


async def settled(future: Future[Any], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``future`` (a hook call on a worker thread): True once it is done,
    False when the time ran out first. Like ``asyncio.wait``, it neither cancels ``future`` nor raises its error;
    cancelling the awaiting task leaves ``future`` running, as before."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[bool] = loop.create_future()
    timer = loop.call_later(timeout, _expire, waiter)
    _hand_back(loop).attach(future, waiter)
    try:
        return await waiter
    finally:
        timer.cancel()
