"""Reading an HTTP answer with a size limit: an airbill is a one-page PDF, so a huge answer is refused.

Without a limit, a misbehaving or hostile file store (an airbill URL is only as trustworthy as
TEvo's JSON that named it) could stream gigabytes into the daemon's memory.  The limit counts
decoded bytes, so a small gzip bomb is caught too, and the answer is dropped whole: nothing of
it is written anywhere.
"""

from __future__ import annotations

import httpx

from tevo_bridge.tevo.errors import ResponseTooLarge

__all__ = ["read_capped"]


async def read_capped(response: httpx.Response, max_bytes: int, what: str) -> bytes:
    """The body of a streamed ``response``, or ``ResponseTooLarge`` as soon as it passes ``max_bytes``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(what, max_bytes, response.status_code)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(what, max_bytes, response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(what: str, max_bytes: int, status: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"{what}: the answer is larger than {max_bytes:,} bytes ([fulfillment] max_airbill_bytes), "
        "so it was not kept", status=status, endpoint=what)
