"""The error answers TEvo gives, as exceptions the API layer turns into responses (docs/tevo-api.md §9).

401 and 500 bodies are TEvo's verbatim.  TEvo documents 422 only for clients
(the resource echoed back with ``errors``); the sandbox assumes order, item and
shipment endpoints answer the same way, with Rails-style messages.
"""

from __future__ import annotations

from typing import Any

BAD_SIGNATURE_BODY: dict[str, str] = {
    "error": "Your signature is incorrect. Please ensure you are generating it correctly"
}
UNAUTHORIZED_BODY: dict[str, str] = {"error": "Unauthorized"}
SERVER_ERROR_BODY: dict[str, str] = {"error": "Error"}
NOT_FOUND_BODY: dict[str, str] = {"error": "Not Found"}
UNAVAILABLE_BODY: dict[str, str] = {"error": "Service Unavailable"}
RATE_LIMITED_BODY: dict[str, str] = {"error": "Too Many Requests"}


class TevoApiError(Exception):
    """An answer other than success, raised from deep inside a rule check."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def not_found() -> TevoApiError:
    return TevoApiError(404, dict(NOT_FOUND_BODY))


def unprocessable(resource: dict[str, Any] | None, **errors: str | list[str]) -> TevoApiError:
    """A 422 shaped like TEvo's: the resource as it stands, plus ``errors`` per field."""
    body: dict[str, Any] = dict(resource or {})
    body["errors"] = {field: msgs if isinstance(msgs, list) else [msgs] for field, msgs in errors.items()}
    return TevoApiError(422, body)
