"""Typed TEvo errors: the caller decides by type, never by parsing a message (docs/tevo-api.md §9)."""

from __future__ import annotations

from typing import Any

BODY_EXCERPT = 2048  # §9 decision: record the first 2 KB of an error body


class TevoError(Exception):
    """Any failed TEvo call.  ``status`` is None when no HTTP answer arrived."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.endpoint = endpoint


class AuthError(TevoError):
    """401: bad token, secret or signature.  Never retried: the credentials must be fixed."""


class NotFound(TevoError):
    """404: re-fetch the parent before concluding it is gone.

    ``message`` is TEvo's own ``message`` field, e.g. "Couldn't find Order with ID=1" (§9): it tells
    a missing record from an unknown route, so it is kept here and in ``str()``.
    """

    def __init__(self, text: str, /, *, message: str | None = None, **kw: Any) -> None:
        super().__init__(text, **kw)
        self.message = message or None


class ValidationFailed(TevoError):
    """400/422: TEvo refused the request; ``errors`` holds its field errors."""

    def __init__(self, message: str, *, errors: dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.errors = errors or {}


class ClientError(TevoError):
    """Another 4xx or an unexpected answer (a redirect on a signed call, 406): a bug or config error."""


class RetryableError(TevoError):
    """5xx, 429 or a transport failure on a call that is safe to repeat."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class OutcomeUnknown(TevoError):
    """A state-changing call may or may not have happened: re-fetch, then decide (§9 retry rules)."""


class ResponseTooLarge(ClientError):
    """An answer (an airbill) grew past its size limit while being read: refused whole, nothing of it kept."""
