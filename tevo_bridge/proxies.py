"""Who is really asking: the socket's peer, or the client a trusted reverse proxy names.

uvicorn's own proxy handling (``proxy_headers``, on by default) believes ``X-Forwarded-For`` from
127.0.0.1, so every loopback client could pick its own address for the login limiter, the refusal
log and ``[server] allowed_ips``. The listeners turn it off and wrap each app in ``TrustedProxies``
instead: only a peer in ``[server] trusted_proxies`` may rename the client or the scheme, and the
socket's own peer is kept in the scope, so the dashboard can tell whether its proxy user header came
from a trusted proxy at all.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_network

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

PEER_KEY = "tevo_bridge.peer"  # the scope key holding the socket's peer address


class TrustedProxies:
    """Record the socket's peer, then let uvicorn's middleware apply forwarded headers from trusted peers only."""

    def __init__(self, app: ASGIApp, trusted: list[str]) -> None:
        self.app = app
        self.trusted = list(trusted)
        # uvicorn types its middleware with its own ASGI aliases; starlette's are the same protocol.
        self._forwarded = (ProxyHeadersMiddleware(app, trusted_hosts=self.trusted)  # type: ignore[arg-type]  # as said
                           if trusted else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope[PEER_KEY] = client[0] if client else ""
        if self._forwarded is None:
            await self.app(scope, receive, send)
        else:
            await self._forwarded(scope, receive, send)  # type: ignore[arg-type]  # uvicorn's ASGI aliases, as above


def is_trusted(address: str, trusted: list[str]) -> bool:
    """Whether ``address`` lies in one of the ``trusted`` IPs or networks (never for a non-IP such as a socket path)."""
    try:
        peer = ip_address(address)
    except ValueError:
        return False
    return any(peer in ip_network(net, strict=False) for net in trusted)


def peer_of(connection: HTTPConnection) -> str:
    """The socket's peer, whatever a proxy header said (the client when not served through ``TrustedProxies``)."""
    recorded = connection.scope.get(PEER_KEY)
    if isinstance(recorded, str):
        return recorded
    return connection.client.host if connection.client else ""


def client_of(connection: HTTPConnection) -> str:
    """The client address to key limits and logs on: the socket's, or the one a trusted proxy named."""
    return connection.client.host if connection.client else "unknown"


__all__ = ["PEER_KEY", "TrustedProxies", "client_of", "is_trusted", "peer_of"]
