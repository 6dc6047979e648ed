"""How the sandbox labels its JSON: with TEvo's vendor media type, not ``application/json``.

Every answer TEvo records carries ``application/vnd.ticketevolution.api+json; version=…;
charset=utf-8`` (docs/tevo-api.md §1), errors included.  Serving the same type here means a
client that only recognises ``application/json`` fails against the sandbox, as it would against TEvo.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

TEVO_JSON_TYPE = "application/vnd.ticketevolution.api+json; version=9; charset=utf-8"


class TevoJSON(JSONResponse):
    """Compact JSON under TEvo's media type; the API routes, the faults and ``/_sandbox`` all answer with it."""

    media_type = TEVO_JSON_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("utf-8")
