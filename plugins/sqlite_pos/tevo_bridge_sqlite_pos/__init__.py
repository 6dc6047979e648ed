"""Sample tevo-bridge POS plugin on SQLite: entry point ``sqlite_pos`` names ``SqlitePos``."""

from tevo_bridge_sqlite_pos.plugin import SqlitePos

__all__ = ["SqlitePos"]
