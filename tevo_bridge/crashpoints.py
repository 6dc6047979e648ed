"""Named places where a test can make the process die, to prove each step survives a crash.

``TEVO_BRIDGE_CRASHPOINT=after_accept`` makes the process exit abruptly (like
SIGKILL: no cleanup, no flush) the first time it passes that point.  Unset, a
crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os

ENV = "TEVO_BRIDGE_CRASHPOINT"


def crashpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os._exit(137)
