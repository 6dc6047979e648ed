"""Issue 20, item 12: an airbill is read with a size limit and saved owner-only; too large, nothing is kept."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fulfillment import fake_tevo
from tests.fulfillment.conftest import FEDEX_ORDER
from tevo_bridge.fulfillment import _plain_download
from tevo_bridge.sandbox.server import serving
from tevo_bridge.tevo.client import ClientOptions, TevoClient
from tevo_bridge.tevo.errors import ResponseTooLarge

LIMIT = 100_000
CHUNK = 64 * 1024
ENDLESS_CHUNKS = 1600  # 100 MB: far more than the reader's limit and the socket buffers together


class FileStore:
    """A loopback file store: ``/small.pdf``, ``/big.pdf`` (with a Content-Length) and ``/endless.pdf`` (chunked)."""

    def __init__(self) -> None:
        self.chunks_sent = 0

    def app(self) -> Starlette:
        async def small(request: Request) -> Response:
            return Response(b"%PDF-1.4 small airbill", media_type="application/pdf")

        async def big(request: Request) -> Response:
            return Response(b"%PDF-1.4" + b"x" * (LIMIT * 2), media_type="application/pdf")

        async def endless(request: Request) -> StreamingResponse:
            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(ENDLESS_CHUNKS):
                    self.chunks_sent += 1
                    yield b"x" * CHUNK
                    # Lets Starlette see the reader hang up and stop this stream: once it has, uvicorn drops
                    # what is sent without waiting, so only a stopped stream shows the reader stopped.
                    await asyncio.sleep(0)

            return StreamingResponse(chunks(), media_type="application/pdf")

        async def get_airbill(request: Request) -> StreamingResponse:
            return await endless(request)

        return Starlette(routes=[Route("/small.pdf", small), Route("/big.pdf", big),
                                 Route("/endless.pdf", endless),
                                 Route("/v9/shipments/{shipment_id:int}/get_airbill", get_airbill)])


@pytest.fixture
def file_store() -> Iterator[tuple[FileStore, str]]:
    files = FileStore()
    with serving(files.app()) as running:
        yield files, running.base_url


async def test_a_download_within_the_limit_is_returned_whole(file_store):
    _, url = file_store

    assert await _plain_download(10, LIMIT)(f"{url}/small.pdf") == b"%PDF-1.4 small airbill"


@pytest.mark.parametrize("path", ["/big.pdf", "/endless.pdf"])
async def test_a_download_over_the_limit_is_refused_naming_the_setting(file_store, path):
    files, url = file_store

    with pytest.raises(ResponseTooLarge, match=r"larger than 100,000 bytes \(\[fulfillment\] max_airbill_bytes\)"):
        await _plain_download(10, LIMIT)(url + path)

    print(f"\nchunks sent before the reader hung up: {files.chunks_sent}")
    assert files.chunks_sent < ENDLESS_CHUNKS // 2  # the reader hung up: the rest was never pulled into memory


async def test_get_airbill_over_the_limit_is_refused_before_it_is_all_read(file_store):
    files, url = file_store

    async with TevoClient(url, "a" * 32, "s" * 40, ClientOptions(max_retries=0)) as tevo:
        with pytest.raises(ResponseTooLarge, match="shipments.get_airbill"):
            await tevo.get_airbill(75054, max_bytes=LIMIT)

    assert 0 < files.chunks_sent < ENDLESS_CHUNKS // 2


async def test_an_oversized_airbill_sends_the_order_to_review_and_saves_nothing(fake, run, tmp_path, monkeypatch):
    monkeypatch.setattr(fake_tevo, "_airbill_pdf", lambda tracking: b"%PDF-1.4" + b"x" * 20_000)

    state, reason = await run(FEDEX_ORDER, max_airbill_bytes=10_000)

    assert state == "needs_review"
    assert "larger than 10,000 bytes ([fulfillment] max_airbill_bytes)" in reason and "Fix:" in reason
    folder = tmp_path / "airbills"
    assert not folder.exists() or list(folder.iterdir()) == []


async def test_an_oversized_airbill_url_sends_the_order_to_review(fake, run, tmp_path, monkeypatch):
    fake.airbill_format = "json"

    async def too_large(url: str) -> bytes:
        raise ResponseTooLarge("airbill download: the answer is larger than 10,000 bytes "
                               "([fulfillment] max_airbill_bytes), so it was not kept")

    monkeypatch.setattr(fake, "download", too_large)

    state, reason = await run(FEDEX_ORDER)

    assert state == "needs_review" and "max_airbill_bytes" in reason


async def test_the_airbill_is_0600_in_a_0700_folder_even_under_umask_000(run, tmp_path):
    previous = os.umask(0)
    try:
        state, _ = await run(FEDEX_ORDER)
    finally:
        os.umask(previous)

    saved = tmp_path / "airbills" / f"{FEDEX_ORDER}.pdf"
    assert state == "done"
    assert (oct(stat.S_IMODE(saved.stat().st_mode)), oct(stat.S_IMODE(saved.parent.stat().st_mode))) == (
        "0o600", "0o700")
