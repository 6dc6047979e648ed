"""HTTP plumbing shared by the intake routes: JSON answers, the body size limit, key checks."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def compact(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), default=str)


def json_response(status: int, body: Any | str) -> Response:
    """A JSON answer; a ``str`` body is sent as stored, byte for byte (idempotent replays)."""
    text = body if isinstance(body, str) else compact(body)
    return Response(text, status_code=status, media_type="application/json")


def key_matches(given: str | None, keys: Iterable[str]) -> bool:
    """Constant-time comparison against every configured key (no early exit that would leak which)."""
    if not given:
        return False
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.encode("utf-8", "replace"), key.encode("utf-8"))
    return matched


def error_fields(response: Response) -> dict[str, list[str]]:
    """The field names and messages of an ``invalid`` answer (never the values sent), bounded in size."""
    try:
        errors = json.loads(bytes(response.body)).get("errors") or {}
    except (ValueError, AttributeError):
        return {}
    return {str(k)[:64]: [str(m)[:200] for m in v][:3] for k, v in list(errors.items())[:10]}


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuse bodies over the limit with 413 before a route sees them, whatever Content-Length claims."""

    def __init__(self, app: ASGIApp, max_bytes: int, on_refused: Callable[[Scope], None] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_refused = on_refused  # told of each refusal, for the refusal log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.on_refused is not None:
            self.on_refused(scope)
        response = json_response(413, {"status": "invalid", "error": "body_too_large",
                                       "max_bytes": self.max_bytes})
        await response(scope, receive, send)
