"""Ticket PDFs come only from the folders they belong in (issue 20, item 12).

A POS row names its PDF by path, and the daemon uploads that file to TEvo, where a buyer
downloads it: a row saying ``../../home/seller/.ssh/id_rsa`` or a symlink planted in the
ticket folder would hand any file this user can read to a stranger.  So a file's real path
(``..`` and symlinks resolved) must lie inside an allowed folder, or it is refused like an
unreadable PDF: nothing is uploaded and the order waits for a person.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tevo_bridge.pos.types import TicketFile

__all__ = ["allowed_ticket_dirs", "outside_ticket_dirs"]


def allowed_ticket_dirs(configured: Sequence[Path], pos: object) -> tuple[Path, ...]:
    """``[fulfillment] ticket_dirs``, else the folder the POS plugin declares (``PluginHost.ticket_dirs``)."""
    if configured:
        return tuple(configured)
    declared = getattr(pos, "ticket_dirs", None)
    return tuple(declared()) if callable(declared) else ()


def outside_ticket_dirs(ticket_file: TicketFile, allowed: Sequence[Path]) -> str | None:
    """Why ``ticket_file`` may not be used, or None: it came from no file, or from one inside ``allowed``."""
    if ticket_file.path is None:
        return None  # bytes from an API (SkyBox), not a file this host reads
    real = Path(os.path.realpath(ticket_file.path))
    roots = [Path(os.path.realpath(folder)) for folder in allowed]
    if any(real.is_relative_to(root) for root in roots):
        return None
    where = f"{ticket_file.path}" + (f" (really {real})" if real != Path(ticket_file.path) else "")
    if not roots:
        return (f"is read from {where}, but no folder is allowed for ticket PDFs. "
                "Fix: set [fulfillment] ticket_dirs to the folder holding them")
    return (f"is read from {where}, outside the folders ticket PDFs may come from "
            f"({', '.join(map(str, roots))}). Fix: move the PDF into one of them and correct the POS row, "
            "or add its folder to [fulfillment] ticket_dirs")
