"""systemd's readiness protocol (sd_notify(3)) with the standard library: one datagram to $NOTIFY_SOCKET.

Under ``Type=notify`` systemd sets ``NOTIFY_SOCKET`` and calls the service started only when it
sends ``READY=1``; ``STOPPING=1`` says a shutdown is under way. Outside systemd (no variable)
every call is a no-op, and a failure to notify is logged, never fatal.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from tevo_bridge.log import get_logger

log = get_logger(__name__)


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1\\nSTATUS=serving"``) to the service manager; True if it was sent."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket: a leading NUL byte on the wire
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        log.warning("sdnotify.unsupported_socket", notify_socket=address)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError as exc:
        log.warning("sdnotify.failed", state=state.split("\n", 1)[0], error=str(exc))
        return False
    return True
