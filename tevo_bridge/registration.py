"""The URLs a seller registers with TEvo, from ``[server] public_url``: logged by ``run``, printed by ``check``.

The webhook URL carries the webhook token, a secret: it is shown with all but its first four
characters masked, enough to tell two tokens apart, never enough to call the route.
"""

from __future__ import annotations

from dataclasses import dataclass

from tevo_bridge.config import ServerSettings
from tevo_bridge.log import get_logger

WEBHOOK_PREFIX = "/webhooks/tevo/"


@dataclass(frozen=True)
class Endpoint:
    name: str  # webhook, hold, release, invoice
    method: str
    url: str


@dataclass(frozen=True)
class Registration:
    endpoints: list[Endpoint]
    api_key_header: str
    notes: list[str]


def mask_token(token: str) -> str:
    return (token[:4] if len(token) >= 16 else "") + "…(masked)"


def public_base(server: ServerSettings) -> tuple[str, list[str]]:
    """The base TEvo calls, and what is wrong with it (a default from host:port, plain http)."""
    notes = []
    if server.public_url:
        base = server.public_url
    else:
        host = f"[{server.host}]" if ":" in server.host else server.host
        base = f"http://{host}:{server.port}"
        notes.append("[server] public_url is not set, so these URLs use host:port; TEvo calls only HTTPS URLs: "
                     "set public_url to your TLS reverse proxy's address, e.g. https://tickets.example.com.")
    if base.startswith("http://") and server.public_url:
        notes.append("[server] public_url is plain http: TEvo calls only HTTPS URLs.")
    return base, notes


def registration(server: ServerSettings) -> Registration:
    base, notes = public_base(server)
    oi = server.order_integration
    token = server.webhook_token.get_secret_value()
    webhook = base + WEBHOOK_PREFIX + mask_token(token)
    if not token:
        notes.append("[server] webhook_token is not set: the webhook route stays closed until it is.")
    endpoints = [
        Endpoint("webhook", "POST", webhook),
        Endpoint("hold", "POST", base + oi.hold_path),
        Endpoint("release", "POST", base + oi.release_path),
        Endpoint("invoice", "POST", base + oi.invoice_path),
    ]
    return Registration(endpoints, oi.api_key_header, notes)


def registration_lines(server: ServerSettings) -> list[str]:
    """For people: what to give TEvo support, one line each."""
    reg = registration(server)
    labels = {"webhook": "webhooks", "hold": "OI hold", "release": "OI release", "invoice": "OI invoice"}
    lines = ["register with TEvo:"]
    for endpoint in reg.endpoints:
        suffix = "" if endpoint.name == "webhook" else f"  (header {reg.api_key_header})"
        lines.append(f"  {labels[endpoint.name] + ':':<12}{endpoint.method} {endpoint.url}{suffix}")
    lines.extend(f"  note: {note}" for note in reg.notes)
    return lines


def log_registration(server: ServerSettings) -> None:
    """One log event with every URL (the daemon logs it at start)."""
    reg = registration(server)
    fields = {f"{e.name}_url": e.url for e in reg.endpoints}
    get_logger(__name__).info("daemon.register_with_tevo", api_key_header=reg.api_key_header, notes=reg.notes,
                              **fields)
