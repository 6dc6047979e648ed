"""The sandbox's listings as a POS inventory CSV: what a seller's POS must hold for the sandbox's buyers.

The sandbox plays TEvo, which knows listings but not stock; the POS owns the stock. Trying
"sandbox + my POS" therefore needs the POS to hold the same ticket groups, and a seller should not
have to read the sandbox's source to type them in. This writes them in the import format of the
sample POS plugins (``tevo_bridge.pos.inventory.CSV_COLUMNS``), with real e-ticket PDFs, so
``tevo-bridge-sqlite-pos import`` (or a ``csv_pos`` folder) takes the file as it is.

PDF paths are absolute: the sandbox only listens on loopback, so the POS is on the same machine,
and an absolute path is right whichever folder the POS resolves relative ones against.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from tevo_bridge.pos.inventory import CSV_COLUMNS, InventoryRow
from tevo_bridge.sandbox.inventory import TicketGroupSpec

__all__ = ["PosInventoryExport"]


class PosInventoryExport:
    """The POS rows of ``listings``, built once (drawing the PDFs) on first use and then reused."""

    def __init__(self, listings: Sequence[TicketGroupSpec], pdf_dir: Path | None = None) -> None:
        """``pdf_dir``: where the ticket PDFs go; ``None`` draws them into a temporary folder removed by ``close``."""
        self._listings = list(listings)
        self._pdf_dir = pdf_dir
        self._owned_dir: Path | None = None
        self._rows: list[InventoryRow] | None = None
        self._lock = threading.Lock()

    def rows(self) -> list[InventoryRow]:
        with self._lock:
            if self._rows is None:
                # The mirror is the same one the demo and the end-to-end tests seed their POS with.
                from tevo_bridge.sandbox.mirror import mirror_inventory

                if self._pdf_dir is None:
                    self._owned_dir = self._pdf_dir = Path(tempfile.mkdtemp(prefix="tevo-sandbox-tickets-"))
                self._rows = mirror_inventory(self._listings, self._pdf_dir)
            return self._rows

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.to_csv() for row in self.rows())
        return out.getvalue()

    def write(self, path: Path) -> Path:
        """Write the CSV to ``path`` (its folder created if needed) and return it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.csv_text(), encoding="utf-8")
        return path

    def close(self) -> None:
        """Remove the PDFs drawn into a temporary folder; a folder the caller chose is left alone."""
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None
