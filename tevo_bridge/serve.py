"""Run the daemon on a free loopback port inside this process (tests, the demo, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from tevo_bridge.config import Settings
from tevo_bridge.daemon import Runtime, build_app, build_runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningDaemon:
    base_url: str
    runtime: Runtime
    server: uvicorn.Server


@contextmanager
def running_daemon(settings: Settings, pos_host: Any | None = None, startup_timeout: float = 20.0
                   ) -> Iterator[RunningDaemon]:
    """Start uvicorn with the daemon's app in a thread; stop it (lifespan shutdown included) on exit."""
    port = settings.server.port or free_port()
    settings = settings.model_copy(update={"server": settings.server.model_copy(update={"port": port})})
    runtime = build_runtime(settings, pos_host=pos_host)
    config = uvicorn.Config(build_app(runtime), host="127.0.0.1", port=port, log_config=None, access_log=False,
                            lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="tevo-bridge-daemon", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the daemon did not start")
        time.sleep(0.01)
    try:
        yield RunningDaemon(f"http://127.0.0.1:{port}", runtime, server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
