"""Which asyncio event loop the daemon runs on: uvloop where it is installed, the standard one otherwise.

Profiles of a hold and a webhook ack (BENCHMARKS.md, "Where a request's CPU goes") put a quarter
of the daemon's CPU in the pure-Python event loop: every request crosses it several times (the
socket, the store thread's hand-back, the POS worker's). uvloop is the same loop in C under the
same API, so nothing else changes. ``[server] event_loop = "asyncio"`` is the way back, should
uvloop ever misbehave on a seller's platform (it does not build on Windows at all).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")

EventLoopChoice = Literal["auto", "uvloop", "asyncio"]


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def chosen(choice: EventLoopChoice = "auto") -> Literal["uvloop", "asyncio"]:
    """The loop ``choice`` means here: ``auto`` is uvloop when it is importable."""
    if choice == "auto":
        return "uvloop" if uvloop_available() else "asyncio"
    return choice


def run(main: Coroutine[Any, Any, T], choice: EventLoopChoice = "auto") -> T:
    """``asyncio.run(main)`` on the chosen loop (``uvloop`` must then be installed)."""
    if chosen(choice) == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
