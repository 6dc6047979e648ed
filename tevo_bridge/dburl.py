"""The PostgreSQL URL of ``[store] url``: recognised, and its password kept out of sight.

Here, below ``config``, and not in ``store.postgres``: the settings check and mask the URL when they
are loaded, and loading settings must not pull in the store (nor psycopg) above them.
"""

from __future__ import annotations

import re


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (in the user part and in a ``password=`` parameter)."""
    masked = re.sub(r"^([a-z]+://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url)
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", masked)


def url_password(url: str) -> str | None:
    """The password a URL carries, for the log redactor (None without one)."""
    match = re.match(r"^[a-z]+://[^:/@?#]*:([^@/?#]*)@", url) or re.search(r"(?i)[?&]password=([^&#]*)", url)
    return match.group(1) if match and match.group(1) else None


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))
