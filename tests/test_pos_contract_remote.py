"""The contract's tests for a POS that is a remote service pass a careful plugin and fail a careless one.

Each test of ``PosContract`` that needs ``pos_plugin_slow`` or ``pos_plugin_late`` is run here directly,
over the SQLite POS behind a pretend network (tests/remote_pos.py): once as a plugin that takes its
timeouts from the hook's deadline and keys every write by TEvo's id, once as one that does neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest
from tevo_bridge_sqlite_pos import SqlitePos, store

from tests.remote_pos import RemoteSqlitePos
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.testing.contract import REMOTE_POS_TESTS, SLOW_BUDGET, SLOW_GRACE, SLOW_POS_SECONDS, PosContract

SUITE = PosContract()
T = TypeVar("T")
LATE_TESTS = [name for name in REMOTE_POS_TESTS if "lost" in name]


@pytest.fixture
def sqlite_pos(tmp_path: Path, pos_inventory: Sequence[InventoryRow]) -> SqlitePos:
    database = tmp_path / "pos.sqlite3"
    store.init_db(database)
    with store.connect(database) as conn:
        store.upsert_ticket_groups(conn, pos_inventory)
    return SqlitePos(SqlitePos.Config(database=database))


@pytest.fixture
def groups(pos_inventory: Sequence[InventoryRow]) -> dict[str, InventoryRow]:
    return {row.remote_id: row for row in pos_inventory}


def run_late(name: str, plugin: object, make_pos_host: Callable[..., PluginHost],
             groups: dict[str, InventoryRow]) -> None:
    test = getattr(SUITE, name)
    kwargs = {"pos_plugin_late": plugin, "make_pos_host": make_pos_host}
    if "customer" not in name:
        kwargs["groups"] = groups
    test(**kwargs)


def test_the_remote_tests_are_the_suites_and_a_waiting_plugin_is_caught_still_waiting() -> None:
    assert all(hasattr(PosContract, name) for name in REMOTE_POS_TESTS)
    assert SLOW_POS_SECONDS > SLOW_BUDGET + SLOW_GRACE  # a plugin waiting for the POS is caught still waiting


def test_a_plugin_giving_up_at_its_deadline_passes_the_slow_test(
    sqlite_pos: SqlitePos, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
) -> None:
    plugin = RemoteSqlitePos(sqlite_pos, delay=SLOW_POS_SECONDS)
    started = time.monotonic()
    SUITE.test_a_slow_pos_makes_every_hook_give_up_by_its_deadline(plugin, make_pos_host, groups)
    # Nine hooks (no pos_mobile_transfer here), each given up at its deadline rather than after the POS's delay.
    assert time.monotonic() - started < 9 * SLOW_POS_SECONDS


def test_a_plugin_waiting_for_a_slow_pos_past_its_deadline_fails_the_slow_test_naming_the_hook(
    sqlite_pos: SqlitePos, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
) -> None:
    plugin = RemoteSqlitePos(sqlite_pos, delay=SLOW_POS_SECONDS, honour_deadline=False)
    with pytest.raises(AssertionError) as failed:
        SUITE.test_a_slow_pos_makes_every_hook_give_up_by_its_deadline(plugin, make_pos_host, groups)
    assert str(failed.value).startswith(f"pos_check_inventory was still waiting for a POS that answers after "
                                        f"{SLOW_POS_SECONDS:g} s, {SLOW_GRACE:g} s past its {SLOW_BUDGET:g} s deadline")


def test_a_plugin_answering_after_its_deadline_fails_the_slow_test(
    sqlite_pos: SqlitePos, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
) -> None:
    """A hook that waits a little past its deadline, then answers: its thread is free in time, its answer lost."""

    class JustLate(RemoteSqlitePos):
        def _round_trip(self, call: Callable[[], T]) -> T:
            time.sleep(SLOW_BUDGET + 0.3)
            return call()

    with pytest.raises(AssertionError) as failed:
        SUITE.test_a_slow_pos_makes_every_hook_give_up_by_its_deadline(JustLate(sqlite_pos), make_pos_host, groups)
    assert str(failed.value).startswith("pos_check_inventory answered Availability(remote_id='90417', available=10, "
                                        "known=True) after its 0.5 s deadline")


@pytest.mark.parametrize("name", LATE_TESTS)
def test_a_plugin_keying_writes_by_tevos_ids_passes_the_lost_answer_tests(
    name: str, sqlite_pos: SqlitePos, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
) -> None:
    plugin = RemoteSqlitePos(sqlite_pos, lose_first_answer=True)
    run_late(name, plugin, make_pos_host, groups)
    assert plugin._tries, "the pretend network lost no answer: the test proved nothing"


@pytest.mark.parametrize(("name", "message"), [
    (LATE_TESTS[0], "pos_hold of 3 of 10 whose first answer was lost (raised AnswerLost("),
    (LATE_TESTS[1], "available, expected 8"),
    (LATE_TESTS[2], "pos_create_customer for TEvo client 3381027 whose first answer was lost"),
    (LATE_TESTS[3], "pos_create_invoice of order 402117 (2 of 4 tickets) whose first answer was lost"),
])
def test_a_plugin_rekeying_a_repeated_write_fails_the_lost_answer_tests(
    name: str, message: str, sqlite_pos: SqlitePos, make_pos_host: Callable[..., PluginHost],
    groups: dict[str, InventoryRow],
) -> None:
    plugin = RemoteSqlitePos(sqlite_pos, lose_first_answer=True, fresh_key_per_try=True)
    with pytest.raises(AssertionError) as failed:
        run_late(name, plugin, make_pos_host, groups)
    assert message in str(failed.value)


def test_a_plugin_refusing_to_void_a_void_invoice_fails_the_lost_answer_void_test(
    sqlite_pos: SqlitePos, make_pos_host: Callable[..., PluginHost], groups: dict[str, InventoryRow]
) -> None:
    plugin = RemoteSqlitePos(sqlite_pos, lose_first_answer=True, refuse_repeated_void=True)
    with pytest.raises(AssertionError) as failed:
        run_late(LATE_TESTS[4], plugin, make_pos_host, groups)
    assert "pos_void_invoice of INV-1 whose first answer was lost (raised AnswerLost(" in str(failed.value)
    assert ("raised VoidRefused(\"invoice 'INV-1' cannot be voided: the invoice is already void\"): voiding a void "
            "invoice must return normally") in str(failed.value)
