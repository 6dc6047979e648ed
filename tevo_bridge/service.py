"""Running as a service: the listening socket taken before anything else, readiness told to systemd.

``bind_listener`` runs before the store is opened, the POS plugin loaded or TEvo polled, so a port
that is already taken stops the daemon with no side effect (``tevo-bridge run`` exits 3: a
transient cause, e.g. the previous instance still stopping, that systemd's ``Restart=on-failure``
may retry). ``listeners.serve_all`` sends systemd ``READY=1`` once the lifespan start-up (store,
worker, poller) is done and every listener serves, and ``STOPPING=1`` when it begins to shut down.
"""

from __future__ import annotations

import errno
import socket

from tevo_bridge.log import get_logger

log = get_logger(__name__)

EXIT_CANNOT_LISTEN = 3
BACKLOG = 2048  # uvicorn's default


class ListenError(Exception):
    """The configured host:port cannot be listened on; the message names it and the fix."""


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_listener(host: str, port: int) -> socket.socket:
    """A socket bound to host:port and already listening (connections wait in its backlog until served)."""
    where = host_port(host, port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {where}: {host!r} is not an address of this machine ({exc}). "
                          "Fix: set [server] host to an address of this machine, e.g. 127.0.0.1.") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart within TIME_WAIT binds
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fix = (f"another process is listening there (another tevo-bridge? `ss -ltnp 'sport = :{port}'` "
                   "shows which). Fix: stop it, or set [server] port (or TEVO_BRIDGE_SERVER__PORT) to a free "
                   "port and point the reverse proxy at it.")
        elif exc.errno == errno.EACCES:
            fix = "ports below 1024 need privileges. Fix: use a port >= 1024 behind the reverse proxy."
        else:
            fix = "Fix: set [server] host to an address of this machine and [server] port to a free port."
        raise ListenError(f"cannot listen on {where}: {exc.strerror or exc}; {fix}") from exc
    sock.set_inheritable(False)
    return sock
