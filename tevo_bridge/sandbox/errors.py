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
# TEvo's two 404s (§9): a route it doesn't have, and a record it can't find (see ``not_found``).
# The recorded route text goes on after its first sentence; the rest is not known.
UNKNOWN_ROUTE_BODY: dict[str, str] = {"error": "The endpoint you requested doesn't exist."}
METHOD_NOT_ALLOWED_BODY: dict[str, str] = {"error": "Method Not Allowed"}
UNAVAILABLE_BODY: dict[str, str] = {"error": "Service Unavailable"}
RATE_LIMITED_BODY: dict[str, str] = {"error": "Too Many Requests"}


class TevoApiError(Exception):
    """An answer other than success, raised from deep inside a rule check."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def not_found(model: str, record_id: object) -> TevoApiError:
    """A missing record, answered as TEvo does: its ``message`` names the model and the id (§9)."""
    return TevoApiError(404, {"error": "Not Found", "message": f"Couldn't find {model} with ID={record_id}"})


def unprocessable(resource: dict[str, Any] | None, **errors: str | list[str]) -> TevoApiError:
    """A 422 shaped like TEvo's: the resource as it stands, plus ``errors`` per field."""
    body: dict[str, Any] = dict(resource or {})
    body["errors"] = {field: msgs if isinstance(msgs, list) else [msgs] for field, msgs in errors.items()}
    return TevoApiError(422, body)
