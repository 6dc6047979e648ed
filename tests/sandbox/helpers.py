"""Test-side helpers: a tiny signer of our own, and a fake seller receiver.

The signer is written here again from docs/tevo-api.md §2, on purpose: tests must
not pass merely because the sandbox and the bridge share a bug.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture_json(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


def fixture_pdf(name: str) -> bytes:
    return (FIXTURES / "pdfs" / name).read_bytes()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def sign(secret: str, method: str, host: str, path: str, payload: bytes) -> str:
    message = f"{method} {host}{path}?".encode() + payload
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


class TevoApi:
    """Sends signed requests to the sandbox, with knobs to sign them wrongly."""

    def __init__(self, base_url: str, token: str, secret: str, timeout: float = 10.0) -> None:
        self.base_url, self.token, self.secret = base_url, token, secret
        self.host = urlsplit(base_url).hostname or ""
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        *,
        raw_query: str | None = None,
        signed_query: str | None = None,
        signed_body: bytes | None = None,
        secret: str | None = None,
        token: str | None = None,
        host: str | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        query = raw_query if raw_query is not None else "&".join(
            f"{quote_plus(k)}={quote_plus(str(v))}" for k, v in sorted((params or {}).items()))
        content = b"" if body is None else (body if isinstance(body, bytes) else
                                             json.dumps(body, separators=(",", ":")).encode())
        full_path = "/v9" + path
        payload = signed_body if signed_body is not None else content
        if not payload:
            payload = (signed_query if signed_query is not None else query).encode()
        headers = {
            "X-Token": token if token is not None else self.token,
            "X-Signature": sign(secret or self.secret, method, host or self.host, full_path, payload),
            "Accept": "application/json",
        }
        if content:
            headers["Content-Type"] = "application/json"
        url = self.base_url + full_path + (f"?{query}" if query else "")
        kwargs: dict[str, Any] = {"content": content or None, "headers": headers}
        if timeout is not None:
            kwargs["timeout"] = timeout
        return self.http.request(method, url, **kwargs)

    def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, params, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, None, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, None, body, **kw)


@dataclass
class Receiver:
    """A fake seller: records every webhook and Order Integration call, answers as scripted."""

    webhooks: list[dict[str, str]] = field(default_factory=list)
    oi_calls: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    webhook_failures: int = 0  # answer 500 to this many webhooks first
    hold_answer: tuple[int, dict[str, Any]] | None = None  # None: hold everything
    oi_failures: int = 0  # answer 503 to this many invoice/release calls first
    stock: dict[str, int] = field(default_factory=dict)  # refuse holds beyond this, per remote_id

    def app(self) -> Starlette:
        async def webhook(request: Request) -> Response:
            if self.webhook_failures > 0:
                self.webhook_failures -= 1
                return JSONResponse({"status": "error"}, status_code=500)
            self.webhooks.append(dict(parse_qsl((await request.body()).decode(), keep_blank_values=True)))
            return JSONResponse({"status": "received"})

        async def hold(request: Request) -> Response:
            body = await request.json()
            self.oi_calls.append(("hold", body, dict(request.headers)))
            if self.hold_answer is not None:
                return JSONResponse(self.hold_answer[1], status_code=self.hold_answer[0])
            if body["quantity"] > self.stock.get(body["remote_id"], body["quantity"]):
                return JSONResponse({"status": "unavailable", "global_id": body["global_id"],
                                     "reason": "insufficient_quantity"}, status_code=409)
            return JSONResponse({"status": "held", "global_id": body["global_id"], "hold_id": "h_1",
                                 "remote_id": body["remote_id"], "quantity": body["quantity"]})

        async def follow_up(request: Request) -> Response:
            kind = "release" if request.url.path.endswith("/release") else "invoice"
            body = await request.json() if await request.body() else {}
            if self.oi_failures > 0:
                self.oi_failures -= 1
                return JSONResponse({"status": "error"}, status_code=503)
            self.oi_calls.append((kind, body, dict(request.headers)))
            if kind == "release":
                return JSONResponse({"status": "released", "global_id": request.path_params["global_id"]})
            return JSONResponse({"status": "invoiced", **body})

        return Starlette(routes=[
            Route("/webhooks/tevo/token", webhook, methods=["POST"]),
            Route("/order-integration/holds", hold, methods=["POST"]),
            Route("/order-integration/holds/{global_id}/release", follow_up, methods=["POST"]),
            Route("/order-integration/invoices", follow_up, methods=["POST"]),
        ])

    def calls(self, kind: str) -> list[dict[str, Any]]:
        return [body for k, body, _ in self.oi_calls if k == kind]
