"""Waiting for an order to settle: woken by the write that settles it, not by asking the store again and again.

*Why:* the Order Integration invoice call answers once its order is settled (invoiced, or handed to a
person), which the pipeline does a few hundred milliseconds later. It read the order every 20 ms (×1.5,
up to 100 ms) until then: 1.3–1.7 of the drain's ~17 store calls per order, each a hand-off to the store
thread (benchmarks/NOTES.md, "Issue 24, fourth pass").

*How:* a write that may settle an order (``settles``: an ``update_order`` that sets ``invoice_id`` or moves
to ``needs_review``, a ``fail_job`` that hands the order to a person), awaited through this process's
``AsyncStore``, calls ``OrderWatch.changed`` on the event loop once its COMMIT is done; on PostgreSQL the
same write also sends ``NOTIFY tevo_settled`` with the order's id, which every replica's listener hands to
its own watch (``PostgresStore``, ``listen_for_jobs``). A wake-up carries no answer: the waiter reads the
order again. So a wake-up that comes early (a write that set nothing the waiter looks for) costs one read,
and one that never comes (a write by another process on SQLite, i.e. the CLI; a notification sent while a
replica's listener was reconnecting) is found by the waiter's fallback read, every few hundred ms.

Lives on the event loop's thread, as ``pipeline/doorbell.py`` does: no locking.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from tevo_bridge.store.vocabulary import OrderRow, OrderState

#: The channel a settling write notifies on PostgreSQL, with the order's id as its payload.
SETTLED_CHANNEL = "tevo_settled"


def is_settled(order: OrderRow | None) -> bool:
    """Invoiced, or handed to a person: what the invoice call waits for."""
    return order is not None and (bool(order.invoice_id) or order.state == OrderState.NEEDS_REVIEW)


def settles(state: str | None, fields: Mapping[str, Any]) -> bool:
    """Whether an ``update_order`` with this state and these fields may make its order ``is_settled``."""
    return bool(fields.get("invoice_id")) or state == OrderState.NEEDS_REVIEW


class OrderWatch:
    """Wakes whoever waits on an order when this process hears that the order may have settled."""

    def __init__(self) -> None:
        self._waiting: dict[int, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watching(self, order_id: int) -> Iterator[asyncio.Event]:
        """An event set by every ``changed(order_id)`` while inside. Enter it before the first read and clear it
        before each read: a write committed after the clear sets it, one committed before is in the read."""
        woken = asyncio.Event()
        self._waiting.setdefault(order_id, set()).add(woken)
        try:
            yield woken
        finally:
            waiters = self._waiting.get(order_id)
            if waiters is not None:
                waiters.discard(woken)
                if not waiters:
                    del self._waiting[order_id]

    def changed(self, order_id: int) -> None:
        """A write that may settle ``order_id`` was committed."""
        for woken in self._waiting.get(order_id, ()):
            woken.set()

    def changed_all(self) -> None:
        """Any order may have settled, unheard (a PostgreSQL listener that reconnects): everyone reads again."""
        for waiters in self._waiting.values():
            for woken in waiters:
                woken.set()

    def from_thread(self, loop: asyncio.AbstractEventLoop) -> Callable[[int | None], None]:
        """``changed(order_id)`` (``None``: any order) for a thread to call, run on ``loop``: what the PostgreSQL
        listener hears from other replicas (``listen_for_jobs``'s ``on_settled``)."""

        def heard(order_id: int | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the daemon is stopping
                loop.call_soon_threadsafe(self.changed_all if order_id is None else partial(self.changed, order_id))

        return heard


async def woken_within(woken: asyncio.Event, timeout: float) -> None:
    """Until ``woken`` is set or ``timeout`` seconds passed, whichever is first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await woken.wait()
