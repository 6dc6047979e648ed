"""The daemon as its own process for the stateful test: ``tevo-bridge run``, with the controlled POS.

    python -m tests.reliability.stateful_daemon      # every setting from TEVO_BRIDGE_* variables

Exactly what ``tevo_bridge.daemon.serve`` does, except that the POS is ``ControlledPos`` (the
SQLite sample POS whose hooks a file beside its database can make raise or hang), so the test
can break the POS of a process it kills with SIGKILL.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn

from tests.reliability.stateful import controlled_host
from tevo_bridge.config import load_settings
from tevo_bridge.daemon import build_app, build_runtime, settle_gc
from tevo_bridge.log import configure_logging


def main() -> None:
    settings = load_settings(None)
    configure_logging(settings.log.level, settings.log.format, settings.secrets())
    host = controlled_host(Path(settings.plugins["sqlite_pos"]["database"]), dict(settings.pos.budgets))
    runtime = build_runtime(settings, pos_host=host)
    config = uvicorn.Config(build_app(runtime), host=settings.server.host, port=settings.server.port,
                            log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    settle_gc()
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
