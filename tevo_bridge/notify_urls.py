"""Notification destinations as Apprise URLs: checked, identified and shown without their secrets.

Below config (foundation), because the settings' secret list (``Settings.secrets``) needs the parts of a
URL that are secret, and ``check``, the log, the CLI and the notifier all show a URL only through ``masked``.
*Why Apprise's own privacy form:* each of its ~100 services knows which of its URL parts is a token or a
password (a Telegram bot token sits where a host would); a generic rule of ours would leak some of them.
Apprise is imported when first needed: it loads every service's module.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = ["destination_id", "masked", "problem", "secret_parts"]

_SEPARATORS = re.compile(r"[/:@?&=,#]+")


def _plugin(url: str) -> Any:
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def problem(url: str) -> str | None:
    """Why Apprise cannot use ``url`` (None when it can), never quoting the URL."""
    if "://" not in url:
        return "is not a URL (SCHEME://...), e.g. mailtos://user:PASSWORD@smtp.example.com or json://host/path"
    if _plugin(url) is None:
        return (f"is not a URL Apprise can send to (scheme {scheme(url)}://, or a part it needs is missing or "
                "malformed): see https://github.com/caronc/apprise/wiki for the syntax of each service")
    return None


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()[:20] if "://" in url else "?"


def masked(url: str) -> str:
    """The URL as Apprise prints it with its secrets replaced; only the scheme when Apprise cannot read it."""
    plugin = _plugin(url)
    if plugin is None:
        return f"{scheme(url)}://****"
    text: str = plugin.url(privacy=True)
    return text.split("?", 1)[0]  # Apprise's defaults, appended as a query, say nothing to a seller


def secret_parts(url: str) -> list[str]:
    """The pieces of ``url`` its privacy form hides (tokens, passwords, keys), for the log redactor.

    Read by difference: a piece of the full URL that its masked form lacks is a secret. A URL Apprise cannot
    read is all secret (its pieces of 4+ characters), since nothing says which part is the token.
    """
    plugin = _plugin(url)
    if plugin is None:
        pieces = set(_SEPARATORS.split(url.split("://", 1)[-1]))
    else:
        shown = set(_SEPARATORS.split(plugin.url(privacy=True)))
        pieces = {piece for piece in set(_SEPARATORS.split(plugin.url(privacy=False))) - shown if len(piece) >= 4}
        # What Apprise did not keep (an option it ignores) is masked too when it is long enough to be a key,
        # and not so short that masking it would blank ordinary words out of every log line.
        pieces |= {piece for piece in set(_SEPARATORS.split(url.split("://", 1)[-1])) - shown if len(piece) >= 8}
        return sorted(pieces)
    return sorted(piece for piece in pieces if len(piece) >= 4)


def destination_id(url: str) -> str:
    """A stable name for one destination, stored with each notification to record where it was sent: a
    digest (the URL holds secrets and must not be stored), so reordering ``urls`` resends nothing."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]
