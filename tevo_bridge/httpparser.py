"""Which HTTP/1.1 parser the listeners speak through: httptools where it is installed, h11 otherwise.

Profiles of a hold and a webhook ack (benchmarks/NOTES.md, "Where a request's CPU goes") put a quarter
of a hold's and two fifths of an ack's CPU in uvicorn's pure-Python h11 protocol. httptools is the
llhttp parser (Node.js's) in C behind uvicorn's other protocol; the connection guard
(``connections.py``) runs on either. ``[server] http_parser = "h11"`` is the way back, should
httptools ever misbehave on a seller's platform.
"""

from __future__ import annotations

from typing import Literal

HttpParserChoice = Literal["auto", "httptools", "h11"]
HttpParser = Literal["httptools", "h11"]


def httptools_available() -> bool:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    return True


def chosen(choice: HttpParserChoice = "auto") -> HttpParser:
    """The parser ``choice`` means here: ``auto`` is httptools when it is importable."""
    if choice == "auto":
        return "httptools" if httptools_available() else "h11"
    return choice
