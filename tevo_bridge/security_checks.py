"""The secrets this daemon checks itself against guessing (issue 20, item 12), for ``validation``.

Every secret here guards a door on the open internet: the Order Integration key and the webhook
token are on the public listener, the session secret signs dashboard cookies.  32 characters of
``secrets.token_urlsafe`` carry about 190 bits: nobody guesses that, whatever the rate limits.
A password hash is checked for scrypt costs below the ones ``hash-password`` writes, because
a cheap hash that leaks (a backup, a config in a ticket) is cracked in minutes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator

from tevo_bridge.config import DashboardSettings, Settings

__all__ = ["MIN_SECRET_LENGTH", "short_secrets", "weak_password_hash"]

MIN_SECRET_LENGTH = 32
MIN_SCRYPT_N, MIN_SCRYPT_R, MIN_SCRYPT_P = 2**14, 8, 1
MIN_SALT_BYTES, MIN_DIGEST_BYTES = 16, 32
FIX = ("Fix: set it to a long random value, e.g. the output of "
       "`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`.")
FIX_HASH = ("Fix: make a new hash with `tevo-bridge dashboard hash-password` and set password_hash to the line "
            "it prints.")


def short_secrets(settings: Settings) -> Iterator[tuple[list[str], str]]:
    """``(config location, what is wrong)`` for each secret shorter than ``MIN_SECRET_LENGTH``; never the value."""
    webhook = settings.server.webhook_token.get_secret_value()
    if webhook and len(webhook) < MIN_SECRET_LENGTH:
        yield ["server", "webhook_token"], _too_short(len(webhook))
    for number, key in enumerate(settings.server.order_integration.api_keys, 1):
        length = len(key.get_secret_value())
        if length < MIN_SECRET_LENGTH:
            yield ["server", "order_integration", "api_keys"], f" (entry {number}){_too_short(length)}"
    session = settings.dashboard.session_secret.get_secret_value()
    # Unset is fine: the daemon then draws a random one per start (everyone logs in again after a restart).
    if settings.dashboard.enabled and session and len(session) < MIN_SECRET_LENGTH:
        yield ["dashboard", "session_secret"], _too_short(len(session))


def weak_password_hash(dashboard: DashboardSettings) -> str | None:
    """Why ``password_hash`` is too cheap to withstand cracking if it leaks, or None."""
    from tevo_bridge.dashboard.auth import valid_hash

    stored = dashboard.password_hash.get_secret_value()
    if not dashboard.enabled or dashboard.auth != "password" or not valid_hash(stored):
        return None  # no password mode, or a malformed hash, which the dashboard check already refuses
    _, n, r, p, salt, digest = stored.split("$")
    try:
        salt_bytes, digest_bytes = _decoded_length(salt), _decoded_length(digest)
    except (binascii.Error, ValueError):
        return "its salt or digest is not base64, so it is no hash `hash-password` printed. " + FIX_HASH
    weak = [f"{name} = {value} (at least {least})" for name, value, least in (
        ("N", int(n), MIN_SCRYPT_N), ("r", int(r), MIN_SCRYPT_R), ("p", int(p), MIN_SCRYPT_P),
        ("salt bytes", salt_bytes, MIN_SALT_BYTES), ("digest bytes", digest_bytes, MIN_DIGEST_BYTES),
    ) if value < least]
    if not weak:
        return None
    return f"scrypt parameters too weak to resist cracking: {', '.join(weak)}. " + FIX_HASH


def _too_short(length: int) -> str:
    return f" is {length} characters; secrets need at least {MIN_SECRET_LENGTH}. {FIX}"


def _decoded_length(text: str) -> int:
    return len(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
