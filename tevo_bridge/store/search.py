"""What the dashboard's search looks for in an order, and how a typed text becomes a LIKE pattern.

The buyer's name and e-mail addresses live inside the TEvo snapshot (JSON text), which SQLite and
PostgreSQL query differently; so the store keeps them, lower-cased, in one plain column
(``orders.buyer_search``), written with the snapshot. One lower-cased ``LIKE`` over that column then
means the same on both backends (SQLite's ``LIKE`` ignores ASCII case, PostgreSQL's does not, and
only PostgreSQL has ``ILIKE``).
"""

from __future__ import annotations

import json
from typing import Any

#: The escape character of every pattern ``like_pattern`` makes (``LIKE ? ESCAPE '\'``).
ESCAPE = "\\"
#: How much of a typed search is used: a name or an address, never a paragraph.
MAX_TEXT = 100


def buyer_search(snapshot: str | None) -> str | None:
    """The snapshot's buyer name and e-mail addresses, lower-cased, one a line (None: nothing to find)."""
    try:
        data: Any = json.loads(snapshot) if snapshot else None
    except ValueError:
        return None
    buyer = data.get("buyer") if isinstance(data, dict) else None
    if not isinstance(buyer, dict):
        return None
    words = [buyer.get("name")]
    words += [e.get("address") for e in buyer.get("email_addresses") or [] if isinstance(e, dict)]
    text = "\n".join(w.strip().lower() for w in words if isinstance(w, str) and w.strip())
    return text or None


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE ? ESCAPE '\\'``, lower-cased, its own ``%``, ``_`` and ``\\`` taken literally."""
    escaped = "".join(ESCAPE + c if c in "%_" + ESCAPE else c for c in text.strip().lower())
    return f"%{escaped}%"
