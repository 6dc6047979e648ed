"""The CSV POS's folder: five files a seller can open in a spreadsheet, and the lock around them.

Writes replace a file atomically (a temp file in the same folder, fsynced, then ``os.replace``), so
a crash leaves the old file or the new one, never half of one. Every read-decide-write runs under
one lock: a ``filelock`` for other processes, and a ``threading.Lock`` for threads of this one.
"""

from __future__ import annotations

import csv
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from tevo_bridge.pos.inventory import CSV_COLUMNS, InventoryRow, read_inventory_csv

INVENTORY = "inventory.csv"
CUSTOMERS = "customers.csv"
HOLDS = "holds.csv"
INVOICES = "invoices.csv"
VOIDS = "voids.csv"

COLUMNS: dict[str, Sequence[str]] = {
    INVENTORY: CSV_COLUMNS,
    CUSTOMERS: ("id", "tevo_client_id", "name", "email", "phone"),
    HOLDS: ("global_id", "remote_id", "quantity", "state", "created_at", "expires_at"),
    # One row per invoice line, the invoice's own columns repeated: one sheet a person can filter.
    INVOICES: (
        "invoice_id",
        "tevo_order_id",
        "global_id",
        "customer_id",
        "buyer",
        "total",
        "created_at",
        "remote_id",
        "quantity",
        "price",
        # Contract 2's invoice context, at the end so a file written before them still reads (as empty).
        "fees",
        "currency",
        "oid",
        "reference",
    ),
    # A voided invoice keeps its lines in invoices.csv (the history of the sale); they no longer count as sold.
    VOIDS: ("invoice_id", "tevo_order_id", "reason", "voided_at"),
}
LOCK_FILE = ".tevo-bridge.lock"

Record = dict[str, str]


class CsvFolder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file_lock = FileLock(directory / LOCK_FILE)
        self._thread_lock = threading.Lock()

    def create_missing(self) -> None:
        """Give every file its header row; existing files are left alone."""
        with self.locked():
            for name in COLUMNS:
                if not (self.directory / name).exists():
                    self.write(name, [])

    @contextmanager
    def locked(self) -> Iterator[CsvFolder]:
        with self._thread_lock, self._file_lock:
            yield self

    def read(self, name: str) -> list[Record]:
        path = self.directory / name
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as f:
            return [{k: v or "" for k, v in record.items() if k is not None} for record in csv.DictReader(f)]

    def inventory(self, *, check_pdfs: bool = False) -> dict[str, InventoryRow]:
        """The stock by remote_id; ``InventoryFileError`` names each bad line (and, with ``check_pdfs``, each
        ``eticket_pdf`` missing from this folder: a stat per row, so only when the POS starts)."""
        path = self.directory / INVENTORY
        if not path.exists():
            return {}
        rows = read_inventory_csv(path, pdf_dir=self.directory if check_pdfs else None)
        return {row.remote_id: row for row in rows}

    def write(self, name: str, records: Sequence[Record]) -> None:
        columns = COLUMNS[name]
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(records)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.directory / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
