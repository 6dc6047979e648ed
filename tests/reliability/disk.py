"""Part 7: a full disk or a read-only database: intake answers 503 (TEvo retries) and acknowledges nothing.

Three ways to take the store's writes away, from the most deterministic to the most real:
``PRAGMA query_only`` (read-only), ``PRAGMA max_page_count`` at the current size (SQLITE_FULL inside a
statement), and a real tmpfs of a few hundred KB filled to the last byte (SQLITE_FULL at COMMIT, when
the WAL is written).  Each request is then judged alone: a 2xx must be in the store, a 503 must have
left nothing, and once the space or the permission is back the same request must go through.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, Stack, stack, webhook_form

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
KEY = {"X-Api-Key": API_KEY}


@dataclass
class DiskRun:
    requests: int = 0
    refused_503: int = 0
    acknowledged_unstored: list[str] = field(default_factory=list)  # a 2xx for what is not in the store
    stored_on_503: list[str] = field(default_factory=list)
    other_status: list[str] = field(default_factory=list)
    recovered: bool = False

    def figures(self) -> dict[str, Any]:
        return {"requests": self.requests, "answered_503": self.refused_503,
                "acknowledged_but_not_stored": len(self.acknowledged_unstored),
                "stored_despite_503": len(self.stored_on_503), "unexpected_status": len(self.other_status),
                "recovered": self.recovered}

    @property
    def clean(self) -> bool:
        return not (self.acknowledged_unstored or self.stored_on_503 or self.other_status) and self.recovered


class Requests:
    """The four intake calls, each with fields unique to it, and a look at whether it was stored."""

    def __init__(self, run: Stack, store_db: Path) -> None:
        self.run, self.store_db = run, store_db
        self.base = run.daemon.base_url
        self.next_order = 900_000_000

    def _rows(self, sql: str, *args: Any) -> int:
        conn = sqlite3.connect(f"file:{self.store_db}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, args).fetchone()[0]
        finally:
            conn.close()

    def webhook(self, pad: int = 0) -> tuple[int, bool]:
        self.next_order += 1
        order = {"id": self.next_order, "oid": f"{self.next_order}-1", "updated_at": "2026-01-01T00:00:00Z",
                 "pad": "x" * pad}
        response = httpx.post(f"{self.base}/webhooks/tevo/{WEBHOOK_TOKEN}", content=webhook_form(order),
                              headers=FORM, timeout=30)
        stored = self._rows("SELECT COUNT(*) FROM inbox WHERE order_id = ?", self.next_order) > 0
        return response.status_code, stored

    def hold(self) -> tuple[int, bool]:
        global_id = f"disk-{uuid.uuid4()}"
        body = {"remote_id": "88213", "quantity": 1, "global_id": global_id}
        response = httpx.post(f"{self.base}/order-integration/holds", json=body, headers=KEY, timeout=30)
        stored = self._rows("SELECT COUNT(*) FROM holds WHERE global_id = ? AND state != 'pending'", global_id) > 0
        if response.status_code == 200:  # free the seat again for the next hold
            httpx.post(f"{self.base}/order-integration/holds/{global_id}/release", json={}, headers=KEY, timeout=30)
        return response.status_code, stored

    def invoice(self) -> tuple[int, bool]:
        self.next_order += 1
        body = {"order_id": self.next_order, "global_id": f"disk-{uuid.uuid4()}"}
        response = httpx.post(f"{self.base}/order-integration/invoices", json=body, headers=KEY, timeout=30)
        stored = self._rows("SELECT COUNT(*) FROM oi_invoices WHERE order_id = ?", self.next_order) > 0
        return response.status_code, stored

    def release(self) -> tuple[int, bool]:
        global_id = f"disk-{uuid.uuid4()}"
        response = httpx.post(f"{self.base}/order-integration/holds/{global_id}/release", json={}, headers=KEY,
                              timeout=30)
        stored = self._rows("SELECT COUNT(*) FROM inbox WHERE global_id = ?", global_id) > 0
        return response.status_code, stored

    def all(self) -> list[tuple[str, int, bool]]:
        return [("webhook", *self.webhook(2000)), ("hold", *self.hold()), ("invoice", *self.invoice()),
                ("release", *self.release())]


def acknowledged(kind: str, status: int) -> bool:
    """An answer given only once the request was recorded.  These invoices name orders TEvo does not have, and
    the daemon answers 409 order_not_found, after recording, when its pipeline finds that out in time."""
    return 200 <= status < 300 or (kind == "invoice" and status == 409)


def judge(result: DiskRun, answers: list[tuple[str, int, bool]], expect_refusal: bool) -> None:
    for kind, status, stored in answers:
        result.requests += 1
        if status == 503:
            result.refused_503 += 1
            if stored:
                result.stored_on_503.append(kind)
        elif acknowledged(kind, status):
            if not stored:
                result.acknowledged_unstored.append(f"{kind}: {status}")
            if expect_refusal and kind != "hold":
                result.other_status.append(f"{kind}: {status} while the store could not write")
        else:
            result.other_status.append(f"{kind}: {status}")


def _on_store(run: Stack, sql: str) -> Any:
    store = run.store
    with store._lock:  # the daemon's own connection: its next transaction sees the change
        return store._conn.execute(sql).fetchone()


def run_read_only(tmp: Path) -> DiskRun:
    result = DiskRun()
    with stack(tmp, log_level="info") as run:
        calls = Requests(run, tmp / "state.sqlite3")
        _on_store(run, "PRAGMA query_only = ON")
        judge(result, calls.all(), expect_refusal=True)
        _on_store(run, "PRAGMA query_only = OFF")
        after = calls.all()
        result.recovered = all(acknowledged(kind, status) and stored for kind, status, stored in after)
        judge(result, after, expect_refusal=False)
    return result


def run_page_limit(tmp: Path, attempts: int = 60) -> DiskRun:
    """SQLITE_FULL from ``max_page_count``: fill until refused; every answer must match what was stored."""
    result = DiskRun()
    with stack(tmp, log_level="info") as run:
        calls = Requests(run, tmp / "state.sqlite3")
        pages = _on_store(run, "PRAGMA page_count")[0]
        _on_store(run, f"PRAGMA max_page_count = {pages + 2}")
        for _ in range(attempts):
            answers = [("webhook", *calls.webhook(3000))]
            judge(result, answers, expect_refusal=False)
            if answers[0][1] == 503:
                break
        judge(result, calls.all(), expect_refusal=False)  # a small row may still fit in a page with room
        _on_store(run, "PRAGMA max_page_count = 1073741823")
        after = calls.all()
        result.recovered = all(acknowledged(kind, status) and stored for kind, status, stored in after)
        judge(result, after, expect_refusal=False)
    return result


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size_kb: int = 2048) -> Iterator[Path | None]:
    """A real file system of ``size_kb`` (root only; None where mounting is not allowed)."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                             capture_output=True).returncode == 0
    try:
        yield where if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> Path:
    """Take every free byte of the file system holding ``folder``."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def run_disk_full(tmp: Path) -> DiskRun | None:
    """The store on a tiny tmpfs filled to the last byte; None where no tmpfs can be mounted."""
    with tiny_tmpfs(tmp / "tmpfs") as disk:
        if disk is None:
            return None
        result = DiskRun()
        with stack(tmp, log_level="info", store={"path": str(disk / "state.sqlite3")}) as run:
            calls = Requests(run, disk / "state.sqlite3")
            judge(result, calls.all(), expect_refusal=False)  # the disk has room yet
            _on_store(run, "PRAGMA wal_checkpoint(TRUNCATE)")
            filler = fill(disk)
            judge(result, calls.all() + calls.all(), expect_refusal=True)
            filler.unlink()
            after = calls.all()
            result.recovered = all(acknowledged(kind, status) and stored for kind, status, stored in after)
            judge(result, after, expect_refusal=False)
        shutil.rmtree(disk, ignore_errors=True)
        return result


def describe(result: DiskRun | None) -> str:
    return json.dumps(None if result is None else {**result.figures(), "acknowledged": result.acknowledged_unstored,
                                                   "stored_on_503": result.stored_on_503,
                                                   "other": result.other_status})
