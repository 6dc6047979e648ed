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
    """httptools importable, and uvicorn's protocol for it names the request it starts running.

    The guard learns which pipelined request is running from ``HttpToolsProtocol._start_asgi_task``
    (connections.py); a uvicorn without it would leave every request's deadlines unwatched, so such a
    uvicorn counts as having no httptools and ``auto`` stays on h11.
    """
    try:
        import httptools  # noqa: F401
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return False
    return callable(getattr(HttpToolsProtocol, "_start_asgi_task", None))


def chosen(choice: HttpParserChoice = "auto") -> HttpParser:
    """The parser ``choice`` means here: ``auto`` is httptools when it is importable."""
    if choice == "auto":
        return "httptools" if httptools_available() else "h11"
    return choice
