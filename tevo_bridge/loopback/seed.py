"""A ``sqlite_pos`` database holding the loopback system's stock: mirrored from the sandbox, or generated.

Here and not in the plugin authors' kit: it needs the SQLite POS, a distribution of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.sandbox.inventory import TicketGroupSpec
from tevo_bridge.sandbox.mirror import mirror_inventory
from tevo_bridge.testing.inventory import generate_inventory


def seed_sqlite_mirror(db_path: Path, specs: Iterable[TicketGroupSpec], pdf_dir: Path) -> list[InventoryRow]:
    """Create a SQLite POS database holding the mirrored inventory."""
    return _seed(db_path, mirror_inventory(specs, pdf_dir))


def seed_sqlite_pos(db_path: Path, pdf_dir: Path, groups: int, seed: int) -> list[InventoryRow]:
    """Create (or extend) a ``sqlite_pos`` database with generated inventory."""
    return _seed(db_path, generate_inventory(pdf_dir, groups, seed))


def _seed(db_path: Path, rows: list[InventoryRow]) -> list[InventoryRow]:
    # Imported here: the SQLite POS is a separate distribution, and a demo on another POS never needs it.
    from tevo_bridge_sqlite_pos import store

    store.init_db(db_path)
    with store.connect(db_path) as conn:
        store.upsert_ticket_groups(conn, rows)
    return rows
