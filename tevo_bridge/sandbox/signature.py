"""How the sandbox checks ``X-Token`` and ``X-Signature`` (docs/tevo-api.md §2).

Written from the documented rules, deliberately not by importing the bridge's
signer: if both sides shared one function, a bug in it would sign and verify
alike and no test would notice.  The sandbox is the independent second reading.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from dataclasses import dataclass


class Verdict(enum.Enum):
    OK = "ok"
    BAD_TOKEN = "bad_token"
    BAD_SIGNATURE = "bad_signature"


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a request that TEvo's signature covers, exactly as they arrived."""

    method: str
    host_header: str
    raw_path: bytes
    raw_query: bytes
    body: bytes
    token: str | None
    signature: str | None


def host_without_port(host_header: str) -> str:
    """TEvo signs the bare host name; the ruby client strips ``:port`` (§2.1)."""
    host = host_header.strip()
    if host.startswith("["):  # an IPv6 literal keeps its brackets, loses the port
        return host[: host.index("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def message_for(method: str, host: str, raw_path: bytes, raw_query: bytes, body: bytes) -> bytes:
    """``METHOD HOST PATH?PAYLOAD``: a non-empty body is the payload, otherwise the query (§2.1 decision).

    The query is taken exactly as it arrived, in its order on the wire.  Clients sort it, but not
    alike: ours sorts by the whole key, TEvo's Ruby client by the key before any ``[]``, so
    ``ids[]=1&ids-x=1`` comes in either order.  Each signs what it sends, and that is what is checked.
    """
    payload = body if body else raw_query
    return method.upper().encode("ascii") + b" " + host.encode("idna") + raw_path + b"?" + payload


def expected_signature(secret: str, message: bytes) -> str:
    """The key is the secret's UTF-8 text, never base64-decoded (§1)."""
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(request: SignedRequest, token: str, secret: str, signed_host: str | None = None) -> Verdict:
    """Check a request the way TEvo answers it: token first, then the signature.

    ``signed_host`` pins the host the signature must name; by default it is the
    request's own ``Host`` header, as a real server would see its own name.
    """
    if request.token is None or not hmac.compare_digest(request.token.encode(), token.encode()):
        return Verdict.BAD_TOKEN
    if not request.signature:
        return Verdict.BAD_SIGNATURE
    host = signed_host or host_without_port(request.host_header)
    message = message_for(request.method, host, request.raw_path, request.raw_query, request.body)
    if hmac.compare_digest(expected_signature(secret, message).encode(), request.signature.strip().encode()):
        return Verdict.OK
    return Verdict.BAD_SIGNATURE
