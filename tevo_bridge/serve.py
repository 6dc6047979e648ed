"""Run the daemon on a free loopback port inside this process (tests, the demo, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import uvicorn

from tevo_bridge import eventloop
from tevo_bridge.config import Settings
from tevo_bridge.daemon import Runtime, build_apps, build_runtime
from tevo_bridge.eventloop import EventLoopChoice
from tevo_bridge.listeners import Listeners, make_listeners, serve_all


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(listeners: Listeners, loop: EventLoopChoice) -> None:
    with suppress(SystemExit):  # a listener could not start: uvicorn logged why; running_daemon raises
        eventloop.run(serve_all(listeners), loop)


@dataclass
class RunningDaemon:
    base_url: str
    runtime: Runtime
    server: uvicorn.Server
    admin_url: str | None = None  # the admin listener, when [server] admin_port is set


@contextmanager
def running_daemon(settings: Settings, pos_host: Any | None = None, startup_timeout: float = 20.0
                   ) -> Iterator[RunningDaemon]:
    """Start the daemon's listeners in a thread; stop them (lifespan shutdown included) on exit.

    Port 0 (for ``port`` or ``admin_port``) means a free loopback port.
    """
    server_settings = settings.server
    update: dict[str, Any] = {"port": server_settings.port or free_port()}
    if server_settings.admin_port is not None:
        update["admin_port"] = server_settings.admin_port or free_port()
    settings = settings.model_copy(update={"server": server_settings.model_copy(update=update)})
    runtime = build_runtime(settings, pos_host=pos_host)
    settings = settings.model_copy(update={"server": settings.server.model_copy(update={"host": "127.0.0.1"})})
    listeners = make_listeners(settings, *build_apps(runtime))
    thread = threading.Thread(target=_serve, args=(listeners, settings.server.event_loop), name="tevo-bridge-daemon", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not all(server.started for server in listeners.servers):
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the daemon did not start")
        time.sleep(0.01)
    admin_url = f"http://{settings.server.admin_host}:{update['admin_port']}" if listeners.admin else None
    try:
        yield RunningDaemon(f"http://127.0.0.1:{update['port']}", runtime, listeners.public, admin_url)
    finally:
        for server in listeners.servers:
            server.should_exit = True
        thread.join(timeout=15)
