"""Issue 20, item 12: the store, its lock, WAL and shared-memory files, backups and restores are owner-only
whatever the umask, because they hold buyer data."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tevo_bridge.private_files import create_private, private_folder, write_private
from tevo_bridge.store.files import backup_store, restore_store
from tevo_bridge.store.sqlite import SqliteStore


@pytest.fixture(autouse=True)
def umask_000() -> Iterator[None]:
    """The worst case: a shell or container whose umask takes nothing away."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def store_with_an_order(path: Path) -> SqliteStore:
    store = SqliteStore(path, daemon=True)
    store.ensure_order(4711, "test")
    return store


def test_a_new_store_its_wal_shm_and_lock_are_0600_in_0700_folders(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deep" / "state.sqlite3"
    store = store_with_an_order(path)
    try:
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
                 path.with_name(path.name + ".lock")]
        assert all(f.exists() for f in files), "the WAL files must exist or the test proves nothing"
        assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
        assert (oct(mode(tmp_path / "state")), oct(mode(tmp_path / "state" / "deep"))) == ("0o700", "0o700")
    finally:
        store.close()


def test_a_backup_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    store = store_with_an_order(tmp_path / "state.sqlite3")
    try:
        dest = tmp_path / "backups" / "monday.sqlite3"
        backup_store(store.path, dest)
    finally:
        store.close()

    assert (oct(mode(dest)), oct(mode(dest.parent))) == ("0o600", "0o700")
    assert not any(p.name.endswith(".partial") for p in dest.parent.iterdir())


def test_a_restore_leaves_the_store_and_the_kept_copy_0600_even_over_a_world_readable_store(tmp_path: Path) -> None:
    source_store = store_with_an_order(tmp_path / "source.sqlite3")
    backup = tmp_path / "backup.sqlite3"
    backup_store(source_store.path, backup)
    source_store.close()
    old = tmp_path / "live" / "state.sqlite3"
    store_with_an_order(old).close()
    os.chmod(old, 0o644)  # as an older tevo-bridge under umask 022 left it

    facts, kept = restore_store(backup, old, "20261204T120000Z")

    assert facts.orders == 1 and kept is not None
    assert (oct(mode(old)), oct(mode(kept))) == ("0o600", "0o600")


def test_a_restore_to_a_new_place_makes_0700_folders(tmp_path: Path) -> None:
    source_store = store_with_an_order(tmp_path / "source.sqlite3")
    backup = tmp_path / "backup.sqlite3"
    backup_store(source_store.path, backup)
    source_store.close()
    dest = tmp_path / "new" / "state.sqlite3"

    restore_store(backup, dest, "20261204T120000Z")

    assert (oct(mode(dest)), oct(mode(dest.parent))) == ("0o600", "0o700")


def test_an_existing_folder_keeps_the_mode_its_operator_gave_it(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)

    private_folder(shared / "mine")
    create_private(shared / "mine" / "f")
    write_private(shared / "w", b"data")

    assert [oct(mode(p)) for p in (shared, shared / "mine", shared / "mine" / "f", shared / "w")] == [
        "0o755", "0o700", "0o600", "0o600"]
    assert (shared / "w").read_bytes() == b"data"
