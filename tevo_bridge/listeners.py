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
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn

from tevo_bridge import httpparser
from tevo_bridge.config import ServerSettings, Settings
from tevo_bridge.connections import Budget, ConnectionGuard, ConnectionLimits, connection_budget, guarded_protocol
from tevo_bridge.log import get_logger
from tevo_bridge.proxies import TrustedProxies
from tevo_bridge.sdnotify import notify
from tevo_bridge.service import host_port

log = get_logger(__name__)


class Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to ``serve_all`` (two servers each installing their own
    handlers would leave only the last one told to stop) and says when it serves.

    ``sock``, when given, is a socket the daemon bound before anything else (``service.bind_listener``).
    """

    def __init__(self, config: uvicorn.Config, sock: socket.socket | None = None) -> None:
        super().__init__(config)
        self.sock = sock
        self.up = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self.up.set()


@dataclass
class Listeners:
    public: Listener
    admin: Listener | None

    @property
    def servers(self) -> list[Listener]:
        return [self.public] if self.admin is None else [self.public, self.admin]


def make_listeners(settings: Settings, public_app: Any, admin_app: Any | None,
                   sockets: tuple[socket.socket | None, socket.socket | None] = (None, None)) -> Listeners:
    """uvicorn servers for the apps on the configured addresses (the admin one only if configured).

    ``sockets`` are the (public, admin) sockets already bound, if the caller bound them first.
    """
    server = settings.server
    with_admin = admin_app is not None and server.admin_port is not None
    budget = connection_budget(server.max_connections, 2 if with_admin else 1)
    if budget.max_connections < server.max_connections:
        log.warning("server.max_connections_lowered", configured=server.max_connections,
                    per_listener=budget.max_connections, backlog=budget.backlog,
                    reason="the process's open-file limit (LimitNOFILE) leaves room for no more")

    public = Listener(listener_config(public_app, server.host, server.port, server, budget, "public", lifespan="on"),
                      sockets[0])
    admin = None
    if with_admin and server.admin_port is not None:
        admin = Listener(listener_config(admin_app, server.admin_host, server.admin_port, server, budget, "admin"),
                         sockets[1])
    return Listeners(public, admin)


def listener_config(app: Any, host: str, port: int, server: ServerSettings, budget: Budget, name: str, *,
                    lifespan: Literal["on", "off"] = "off") -> uvicorn.Config:
    """uvicorn's settings for one listener: its own proxy handling off (it believes X-Forwarded-For from
    127.0.0.1 by default, and FORWARDED_ALLOW_IPS from the environment), ``TrustedProxies`` instead; the header
    and body deadlines and the connection cap of ``budget`` (tevo_bridge/connections.py), on the HTTP parser of
    ``[server] http_parser`` (tevo_bridge/httpparser.py)."""
    limits = ConnectionLimits(server.header_timeout, server.body_timeout, budget.max_connections, name)
    protocol = guarded_protocol(limits, httpparser.chosen(server.http_parser))
    return uvicorn.Config(TrustedProxies(app, server.trusted_proxies), host=host, port=port, log_config=None,
                          access_log=False, lifespan=lifespan, timeout_graceful_shutdown=2, proxy_headers=False,
                          forwarded_allow_ips="", backlog=budget.backlog, http=protocol)


def parser_of(server: uvicorn.Server) -> str:
    """The HTTP parser a listener speaks through ("httptools" or "h11"): its guarded protocol class says."""
    protocol = server.config.http
    if isinstance(protocol, type) and issubclass(protocol, ConnectionGuard):
        return protocol.http_parser
    return str(protocol)


async def serve_all(listeners: Listeners) -> None:
    """Run every listener until SIGTERM or SIGINT (a second SIGINT forces the exit), or until one stops.

    One listener stopping (the admin port was taken, say) stops the others: a daemon whose metrics
    silently vanished would look healthy to nobody.
    """
    servers = listeners.servers

    def stop(force: bool = False) -> None:
        if not any(server.should_exit for server in servers):
            notify("STOPPING=1\nSTATUS=stopping")
        for server in servers:
            server.force_exit = server.force_exit or (force and server.should_exit)
            server.should_exit = True

    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for sig, force in ((signal.SIGTERM, False), (signal.SIGINT, True)):
            loop.add_signal_handler(sig, stop, force)
            installed.append(sig)
    failures: list[SystemExit] = []

    async def ready() -> None:
        """systemd hears READY=1 only once every listener serves (the runtime started with the public one)."""
        await asyncio.gather(*(server.up.wait() for server in servers))
        where = ", ".join(host_port(server.config.host, server.config.port) for server in servers)
        log.info("daemon.listening", address=where, http_parser=", ".join(sorted({parser_of(s) for s in servers})))
        notify(f"READY=1\nSTATUS=serving on {where}")

    async def run(server: Listener) -> None:
        try:
            await server.serve(sockets=[server.sock] if server.sock is not None else None)
        except SystemExit as exc:  # uvicorn's way to say it could not start (the port is taken, say)
            failures.append(exc)
        finally:
            stop()

    announce = asyncio.create_task(ready())
    try:
        await asyncio.gather(*(run(server) for server in servers))
    finally:
        announce.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
    if failures:
        raise failures[0]  # after the others stopped cleanly (lifespan shutdown included)
