"""The SQLite POS passes the POS contract suite."""

import pytest
from tevo_bridge_sqlite_pos import SqlitePos, store

from tevo_bridge.testing.contract import PosContract


class TestSqlitePosContract(PosContract):
    @pytest.fixture
    def pos_plugin(self, tmp_path, pos_inventory):
        database = tmp_path / "pos.sqlite3"
        store.init_db(database)
        with store.connect(database) as conn:
            store.upsert_ticket_groups(conn, pos_inventory)
        return SqlitePos(SqlitePos.Config(database=database))

    @pytest.fixture
    def pos_plugin_down(self, pos_plugin):
        """The database deleted under a running plugin (a disk unmounted, a file moved)."""
        pos_plugin.database.unlink()
        return pos_plugin
