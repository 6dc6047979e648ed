"""The cause classes of needs_review reasons, for "Retry all": orders stuck for one cause a person fixed once.

A reason names its order's particulars (an item id, a file name), so no two read alike; what a
person fixes is the cause behind them (the POS came back, the ticket files were put back). Each
class is recognised by words its reasons hold, first match wins, and only these classes are offered
for "Retry all": a reason that fits none is retried one by one, after a person read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    key: str  # in the URL and the audit trail
    label: str  # what the page says
    words: tuple[str, ...]  # any of these, in the lower-cased reason


#: Most specific first: "cannot supply" also says "POS", an unreadable PDF's reason may say "file".
CAUSES: tuple[Cause, ...] = (
    Cause("cannot_supply", "The POS could not supply the tickets (stock or price)", ("cannot supply",)),
    Cause("ticket_files", "A ticket PDF was missing or unreadable", ("pdf", "no such file", "filenotfounderror",
                                                                     "ticket file", "ticket files")),
    Cause("pos_unreachable", "The POS did not answer", ("pos", "postimeout", "poserror", "poscallerror", "timeout",
                                                        "timed out", "no answer", "could not connect", "unreachable",
                                                        "connection")),
    Cause("config", "A setting was missing", ("config lacks", "[fulfillment]", "[pipeline]")),
    Cause("fraud", "TEvo's fraud check held the order", ("fraud",)),
)
BY_KEY = {cause.key: cause for cause in CAUSES}


def cause_of(reason: str) -> Cause | None:
    """The class a needs_review reason belongs to (None: none of them; it is retried on its own).

    Whole words only: "pos" must not find "possible" or "deposit"."""
    lowered = reason.lower()
    return next((cause for cause in CAUSES if any(_has(word, lowered) for word in cause.words)), None)


def _has(word: str, text: str) -> bool:
    return re.search(rf"(?<![a-z0-9_]){re.escape(word)}(?![a-z0-9_])", text) is not None


def groups(reasons: list[str]) -> list[tuple[Cause, int]]:
    """The cause classes that hold two or more of these reasons: those a "Retry all" saves clicks for."""
    found = [cause_of(reason) for reason in reasons]
    counts = [(cause, found.count(cause)) for cause in CAUSES]
    return [(cause, n) for cause, n in counts if n >= 2]
