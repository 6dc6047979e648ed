"""tevo-bridge POS plugin for any POS that implements the JSON-over-HTTP API of openapi.yaml.

``reference`` is a small server of that API (SQLite), for the tests and for brokers to read or start from.
"""

from tevo_bridge_http_pos.plugin import TEVO_BRIDGE_CONTRACT, HttpPos

__all__ = ["TEVO_BRIDGE_CONTRACT", "HttpPos"]
