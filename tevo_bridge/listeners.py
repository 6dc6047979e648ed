"""The daemon's HTTP listeners: the public one (intake) and, when configured, an admin one.

With ``[server] admin_port`` set, ``/metrics`` and the OpenAPI document move to a second
listener (typically on loopback or a private network), so only the intake paths face the
internet. Both are uvicorn servers on the one event loop, sharing the one runtime; the public
app's lifespan starts and stops the runtime, the admin app has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from tevo_bridge.config import Settings


class Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to ``serve_all``: two servers each installing their own
    handlers would leave only the last one told to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Listeners:
    public: Listener
    admin: Listener | None

    @property
    def servers(self) -> list[Listener]:
        return [self.public] if self.admin is None else [self.public, self.admin]


def make_listeners(settings: Settings, public_app: Any, admin_app: Any | None) -> Listeners:
    """uvicorn servers for the apps on the configured addresses (the admin one only if configured)."""
    server = settings.server

    def config(app: Any, host: str, port: int, lifespan: str) -> uvicorn.Config:
        return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan=lifespan,
                              timeout_graceful_shutdown=2)

    public = Listener(config(public_app, server.host, server.port, "on"))
    admin = None
    if admin_app is not None and server.admin_port is not None:
        admin = Listener(config(admin_app, server.admin_host, server.admin_port, "off"))
    return Listeners(public, admin)


async def serve_all(listeners: Listeners) -> None:
    """Run every listener until SIGTERM or SIGINT (a second SIGINT forces the exit), or until one stops.

    One listener stopping (the admin port was taken, say) stops the others: a daemon whose metrics
    silently vanished would look healthy to nobody.
    """
    servers = listeners.servers

    def stop(force: bool = False) -> None:
        for server in servers:
            server.force_exit = server.force_exit or (force and server.should_exit)
            server.should_exit = True

    loop = asyncio.get_running_loop()
    installed: list[int] = []
    if threading.current_thread() is threading.main_thread():
        for sig, force in ((signal.SIGTERM, False), (signal.SIGINT, True)):
            loop.add_signal_handler(sig, stop, force)
            installed.append(sig)
    failures: list[SystemExit] = []

    async def run(server: Listener) -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn's way to say it could not start (the port is taken, say)
            failures.append(exc)
        finally:
            stop()

    try:
        await asyncio.gather(*(run(server) for server in servers))
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    if failures:
        raise failures[0]  # after the others stopped cleanly (lifespan shutdown included)
