"""The daemon as its own process for the stateful test: ``tevo-bridge run``, with the controlled POS.

    python -m tests.reliability.stateful_daemon      # every setting from TEVO_BRIDGE_* variables

What ``tevo_bridge.daemon.serve`` does, except that the POS is ``ControlledPos`` (the SQLite
sample POS whose hooks a file beside its database can make raise or hang), so the test can
break the POS of a process it kills with SIGKILL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.reliability.stateful import controlled_host
from tevo_bridge.config import load_settings
from tevo_bridge.daemon import build_apps, build_runtime, settle_gc
from tevo_bridge.listeners import make_listeners, serve_all
from tevo_bridge.log import configure_logging


def main() -> None:
    settings = load_settings(None)
    configure_logging(settings.log.level, settings.log.format, settings.secrets())
    host = controlled_host(Path(settings.plugins["sqlite_pos"]["database"]), dict(settings.pos.budgets))
    runtime = build_runtime(settings, pos_host=host)
    listeners = make_listeners(settings, *build_apps(runtime))
    settle_gc()
    asyncio.run(serve_all(listeners))


if __name__ == "__main__":
    main()
