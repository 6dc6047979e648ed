"""A TEvo call over a real socket never walks the import system.

httpcore asks ``import sniffio`` on every request it sends (its locks check which async library runs them),
and anyio no longer brings sniffio along. Without it each call failed that import about five times, and a
failed import searches every ``sys.path`` entry and every finder: ~36 µs each in an installed daemon, about a
twentieth of the drain's CPU per order (benchmarks/NOTES.md). The project depends on ``sniffio`` for that
reason; this test fails if a call ever searches for a module again.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.cassettes.record import SECRET, TOKEN, fixture
from tevo_bridge.tevo.client import TevoClient

ORDER = json.dumps(fixture("office_sale_eticket")).encode()


class Searches:
    """Placed last on ``sys.meta_path``: reached only by imports every other finder failed."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        self.names[name] += 1


@pytest.fixture
def searches() -> Iterator[Searches]:
    finder = Searches()
    sys.meta_path.append(finder)
    try:
        yield finder
    finally:
        sys.meta_path.remove(finder)


async def answer_orders(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A keep-alive HTTP/1.1 server that answers every GET with the same order, until the client hangs up."""
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(ORDER), ORDER))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def test_tevo_calls_search_for_no_module(searches: Searches) -> None:
    server = await asyncio.start_server(answer_orders, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with TevoClient(f"http://127.0.0.1:{port}", TOKEN, SECRET) as tevo:
            await tevo.get_order(1)  # the first call may import what it needs once
            searches.names.clear()
            orders = await asyncio.gather(*(tevo.get_order(n) for n in range(8)))
    finally:
        server.close()
    assert [order.id for order in orders] == [fixture("office_sale_eticket")["id"]] * 8
    assert searches.names == Counter(), "each of these imports failed, searching sys.path, during a TEvo call"
