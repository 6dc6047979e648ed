"""TEvo request signing (docs/tevo-api.md §2).

TEvo verifies an HMAC over the exact request line and body it receives, so the
one rule that matters is: sign the bytes that go on the wire.  ``TevoAuth`` does
that as an ``httpx.Auth``; the pure functions below are what it (and the
``tevo-bridge sign`` command) are built from.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Generator, Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx


def canonical_query(params: Mapping[str, object]) -> str:
    """The sorted, ``quote_plus``-encoded query string of §2.2.

    The same string goes into the URL and into the signature, so the server's
    re-encoding (unknown, §10) can never make the two disagree.
    """
    pairs = []
    for key in sorted(k for k, v in params.items() if v is not None):
        value = params[key]
        if isinstance(value, (list, tuple, dict, set)):
            raise TypeError(f"array or nested query parameter {key!r} is not supported")
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append(f"{quote_plus(key)}={quote_plus(str(value))}")
    return "&".join(pairs)


def json_body(payload: Any) -> bytes:
    """Serialise a body once (§2.3): compact and pure ASCII, so what is signed is what is sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def string_to_sign(method: str, host: str, path: str, query: str = "", body: bytes = b"") -> bytes:
    """``METHOD HOST PATH?PAYLOAD``: the body when there is one, else the query (§2.1)."""
    if body and query:
        # No TEvo source says which would win, so refuse rather than guess (§2.1 DELETE decision).
        raise ValueError("request has both a query string and a body")
    return f"{method.upper()} {host}{path}?".encode("ascii") + (body or query.encode("ascii"))


def x_signature(secret: str, message: bytes) -> str:
    """Base64 of HMAC-SHA256 keyed with the secret's UTF-8 text (never base64-decoded)."""
    mac = hmac.new(secret.encode("utf-8"), message, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def request_string_to_sign(request: httpx.Request) -> bytes:
    """The string to sign for a request exactly as httpx will send it."""
    url = request.url
    query = url.query.decode("ascii")
    return string_to_sign(request.method, url.host, url.raw_path.split(b"?", 1)[0].decode("ascii"), query, request.content)


class TevoAuth(httpx.Auth):
    """Adds ``X-Token`` and ``X-Signature`` to every request.

    ``requires_request_body`` makes httpx hand over the final body bytes, so a
    body built anywhere (JSON, base64 e-tickets) is signed as sent.
    """

    requires_request_body = True

    def __init__(self, token: str, secret: str) -> None:
        self._token = token
        self._secret = secret

    def __repr__(self) -> str:  # never show credentials in a traceback or log
        return "TevoAuth(token=***, secret=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Token"] = self._token
        request.headers["X-Signature"] = x_signature(self._secret, request_string_to_sign(request))
        yield request
