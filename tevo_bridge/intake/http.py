"""HTTP plumbing shared by the intake routes: JSON answers, the body size limit, key checks."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: What ``json.dumps(body, separators=(",", ":"), default=str)`` builds anew on every call, made once: the same
#: bytes (stored answers are replayed byte for byte), without an encoder per hold and per ack.
_COMPACT = json.JSONEncoder(separators=(",", ":"), default=str)


def compact(body: Any) -> str:
    return _COMPACT.encode(body)


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
    """Raised by ``BodyLimit``'s ``receive`` once a route has read more than the limit; the app answers
    ``response()`` (intake.app registers the handler)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"request body over {max_bytes} bytes")
        self.max_bytes = max_bytes

    def response(self) -> Response:
        response = json_response(413, {"status": "invalid", "error": "body_too_large", "max_bytes": self.max_bytes})
        response.headers["connection"] = "close"  # the rest of the body is not read
        return response


class BodyLimit:
    """Refuse bodies over the limit with 413, counting bytes as a route reads them, whatever Content-Length claims.

    Nothing is buffered here: the routes check the API key or webhook token before they read the body, so a
    caller that has not authenticated costs no memory for its body, and its answer closes the connection (the
    rest of its body is never read). A declared Content-Length over the limit is refused at once.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, on_refused: Callable[[Scope], None] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_refused = on_refused  # told of each refusal, for the refusal log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            self._refused(scope)
            await BodyTooLarge(self.max_bytes).response()(scope, receive, send)
            return
        read = 0
        complete = declared in (None, b"0") and b"transfer-encoding" not in headers

        async def counted() -> Message:
            nonlocal read, complete
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_bytes:
                    self._refused(scope)
                    raise BodyTooLarge(self.max_bytes)
                complete = not message.get("more_body", False)
            return message

        async def closing(message: Message) -> None:
            # Answered before the body was read (401, 404, ...): close rather than read and drop the rest of
            # it, which a slow sender could make last forever.
            if message["type"] == "http.response.start" and not complete:
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*kept, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, counted, closing)

    def _refused(self, scope: Scope) -> None:
        if self.on_refused is not None:
            self.on_refused(scope)
