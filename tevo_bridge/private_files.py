"""Files and folders the daemon creates hold buyer data: owner-only, whatever the umask (issue 20, item 12).

The store, its backups and the airbills carry buyers' names, addresses and ticket details.
Under systemd the unit's ``UMask=0077`` keeps them private, but run from a shell, a
container or cron the umask is often 022 (or 000), and every such file would be world-readable.
So the daemon asks for 0600 / 0700 itself: a file is created with those bits in the ``open``
call (nothing else can read it even for a moment), and a folder it creates is set to 0700
right after, because ``mkdir``'s mode is filtered through the umask.  Folders that exist
already are the operator's and are left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "create_private", "private_folder", "write_private"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(folder: Path) -> None:
    """``mkdir -p`` whose newly made folders are 0700; existing ones keep their mode."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made meanwhile by another process: theirs
            continue
        os.chmod(path, FOLDER_MODE)


def create_private(path: Path) -> None:
    """Make ``path`` an empty owner-only file if it is not there; an existing file is left as it is.

    SQLite gives a database's ``-wal`` and ``-shm`` files the mode of the database file, so
    creating the (empty, still valid) database this way makes all three private.  An existing
    file may belong to another user (a restore run as root hands it over), so it is not touched.
    """
    private_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away, never added any: this is belt and braces
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new owner-only file (truncating one that is there), synced to disk."""
    private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(fd)
    finally:
        os.close(fd)
