"""Sample tevo-bridge POS plugin on SQLite: entry point ``sqlite_pos`` names ``SqlitePos``.

A distribution of its own, like any seller's plugin, so it reaches the core only through the POS contract
(``tevo_bridge.pos``); it is the POS the demo, the end-to-end tests and the benchmarks run against.
"""

from tevo_bridge_sqlite_pos.plugin import SqlitePos

__all__ = ["SqlitePos"]
