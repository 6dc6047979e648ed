"""The floor the promises set: the bare app plus exactly the durable work a hold and a webhook ack must do.

``python -m benchmarks.durable_bare --port N --dir DIR``. The same FastAPI app, routes and ``uvicorn.Config``
as ``benchmarks/bare_app.py``, on the same parser (h11): the floor is the bare endpoint plus the promises, so
floor / bare prices the promises alone; on httptools it would price the parser's gain too, against a bare
endpoint without it (the intake suite's "bare on httptools" figures price the parser). Each route also makes
its request durable before it answers, as the daemon must, and does nothing else (no parsing, no checks, no
logging, no metrics):

- a webhook ack: one fsync'd SQLite commit of a row (the request's body) in the store file;
- an Order Integration hold: three commits in series, as a hold needs them: the pending row in the
  store file before the POS is asked (so a crash never leaves a POS hold nobody releases), the POS's
  hold in the POS's own file, the answer row in the store file (so a repeat is replayed byte for byte).

Both files have the store's PRAGMAs (WAL, ``synchronous=FULL``), and each is written by one thread
with the same group-commit opportunity as the daemon's store (``tevo_bridge/store/aio.py``): the
writes that queue while a COMMIT runs share the next one (at most 32). It is written the cheapest
honest way: one ``executemany`` per batch, one hand-back to the event loop per batch, so the ratio of
the daemon to this endpoint prices our code and that of this endpoint to the bare one prices the
promises.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sqlite3
import threading
from pathlib import Path

import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from benchmarks.bare_app import HELD, build, uvicorn_config

#: As the store's group commit (tevo_bridge/store/aio.py MAX_BATCH).
MAX_BATCH = 32


class GroupCommit:
    """One SQLite file, one writer thread: ``await writer.write(row)`` returns once the row's COMMIT is done."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        self._queue: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[None], bytes]] = \
            queue.SimpleQueue()
        threading.Thread(target=self._run, name=f"commit-{path.name}", daemon=True).start()

    async def write(self, row: bytes) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put((loop, done, row))
        await done

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("INSERT INTO rows (body) VALUES (?)", [(row,) for _, _, row in batch])
            self._conn.execute("COMMIT")
            batch[0][0].call_soon_threadsafe(_settle, [done for _, done, _ in batch])


def _settle(futures: list[asyncio.Future[None]]) -> None:
    for done in futures:
        if not done.cancelled():
            done.set_result(None)


class Files:
    """The two files a hold writes: the daemon's store and the POS's."""

    store: GroupCommit
    pos: GroupCommit

    @classmethod
    def open(cls, directory: Path) -> None:
        """Before the server starts: the endpoints find the files here (FastAPI calls them with the request only)."""
        directory.mkdir(parents=True, exist_ok=True)
        cls.store = GroupCommit(directory / "store.sqlite3")
        cls.pos = GroupCommit(directory / "pos.sqlite3")


async def durable_hold(request: Request) -> Response:
    body = await request.body()
    await Files.store.write(body)  # the pending row, durable before the POS is asked
    await Files.pos.write(body)  # the POS's hold
    await Files.store.write(HELD)  # the answer, for byte-identical replays
    return Response(HELD, media_type="application/json")


async def durable_webhook(request: Request, token: str) -> Response:
    await Files.store.write(await request.body())
    return Response(b'{"status":"received"}', media_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="where the two SQLite files go")
    args = parser.parse_args()
    Files.open(args.dir)
    uvicorn.Server(uvicorn_config(build(durable_hold, durable_webhook), args.port)).run()


if __name__ == "__main__":
    main()
