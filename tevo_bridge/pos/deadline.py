"""How long the hook now running has left: the deadline a remote POS sets its timeouts from.

The host runs every hook under a budget (``[pos.budgets]``, or less when an Order Integration
hold must answer TEvo sooner). A plugin that calls a remote service should not guess its HTTP
timeouts: a call that outlives the budget is abandoned by the host anyway, and its answer is
lost. So the host records the deadline in a context variable around each hook call, in the
worker thread that runs it, and a plugin reads it here::

    from tevo_bridge.pos import deadline

    response = client.post(url, json=body, timeout=deadline.time_left())

An accessor rather than a new hook argument keeps every hook's signature (contract v1 plugins
keep working) and reaches code deep inside a plugin's own client without threading a parameter.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["call_by", "current", "running_until", "time_left"]

T = TypeVar("T")

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("tevo_bridge_pos_deadline", default=None)

#: What ``time_left`` answers outside a hook call (a plugin's own tests, a CLI helper).
NO_DEADLINE_SECONDS = 30.0


def current() -> float | None:
    """The ``time.monotonic()`` instant the running hook must answer by; None outside a hook call."""
    return _DEADLINE.get()


def time_left(default: float = NO_DEADLINE_SECONDS) -> float:
    """Seconds until the running hook's deadline (never below zero), or ``default`` outside a hook call.

    Zero means the host has already given up on this call: return or raise at once, since
    anything written now is compensated (a late hold is released) rather than used.
    """
    deadline = _DEADLINE.get()
    if deadline is None:
        return default
    return max(0.0, deadline - time.monotonic())


@contextmanager
def running_until(deadline: float) -> Iterator[None]:
    """Make ``deadline`` (a ``time.monotonic()`` instant) the current one for the code inside."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def call_by(deadline: float, fn: Callable[..., T], /, *args: object, **kwargs: object) -> T:
    """Call ``fn`` with ``deadline`` current: what the host's worker thread runs for each hook."""
    # ``running_until`` spelled out: a generator context manager per hook call is a visible cost on the hold's path.
    token = _DEADLINE.set(deadline)
    try:
        return fn(*args, **kwargs)
    finally:
        _DEADLINE.reset(token)
