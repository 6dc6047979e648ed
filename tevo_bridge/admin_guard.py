"""What the admin listener (and ``dashboard serve``) answers, and with which browser protections.

``HostGuard``: a web page the operator visits can point its own host name at 127.0.0.1 (DNS
rebinding) and then read the dashboard as same-origin, so a request naming any other host is refused
before a route sees it. ``SecurityHeaders``: every answer, error pages included, forbids framing,
MIME sniffing, referrers and any script or style not served by the daemon itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from ipaddress import ip_address

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: No inline script or style, nothing from elsewhere; the dashboard's own files, forms and htmx requests only.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def host_name(header: str) -> str:
    """``Host`` without its port, lower case: ``[::1]:9180`` -> ``::1``, ``Example.com:80`` -> ``example.com``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def served_names(admin_host: str, admin_hosts: Iterable[str]) -> frozenset[str]:
    """localhost, the address the listener binds (unless a wildcard) and the configured names."""
    names = {"localhost", *(h.lower() for h in admin_hosts)}
    if admin_host.strip("[]") not in WILDCARDS:
        names.add(admin_host.strip("[]").lower())
    return frozenset(names)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_served(name: str, names: frozenset[str]) -> bool:
    return name in names or is_loopback(name)


class HostGuard:
    """421 with a JSON body for a ``Host`` this listener does not serve (the rebinding defence)."""

    def __init__(self, app: ASGIApp, names: frozenset[str]) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_served(host_name(Headers(scope=scope).get("host", "")), self.names):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"status": "error", "error": "unknown_host",
                           "detail": "This listener does not answer for that host name. If you reach it through a "
                                     "name of your own, add it to [server] admin_hosts."}).encode()
        await send({"type": "http.response.start", "status": 421,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP answer that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def guarded(app: ASGIApp, admin_host: str, admin_hosts: Iterable[str]) -> ASGIApp:
    """The admin app as it must face a browser: right host names only, security headers on everything."""
    return HostGuard(SecurityHeaders(app), served_names(admin_host, admin_hosts))


__all__ = ["CONTENT_SECURITY_POLICY", "HostGuard", "SecurityHeaders", "guarded", "host_name", "is_loopback",
           "served_names"]
