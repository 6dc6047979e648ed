"""The HTTP client of the POS API: the bearer token, timeouts from the hook's deadline, safe retries, and every
answer validated, with errors that name the endpoint and never the token.

Retries: a call is repeated only when repeating it cannot write twice (a GET, or a write carrying its
Idempotency-Key, which the POS must honour) and only for failures that say nothing was answered: the connection
refused or dropped (the lost answer), or 502/503/504. A call that timed out has spent the hook's deadline, so it is
not repeated: the host has already given up on the hook, and the daemon's own retry asks again with the same key.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Mapping
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from tevo_bridge.pos import deadline
from tevo_bridge_http_pos.settings import HttpPosSettings
from tevo_bridge_http_pos.wire import ErrorBody

__all__ = ["ApiError", "BadAnswer", "HttpPosError", "PosClient", "Unauthorized", "Unreachable"]

M = TypeVar("M", bound=BaseModel)

#: Answers that mean "not handled, ask again" (a proxy or the POS itself overloaded or restarting).
RETRY_STATUSES = frozenset({502, 503, 504})
MASK = "***"


class HttpPosError(Exception):
    """A fault talking to the POS (the daemon retries the step); the message names the endpoint, never the token."""


class Unreachable(HttpPosError):
    """No answer: the POS is down, the connection dropped, or the hook's deadline passed."""


class Unauthorized(HttpPosError):
    """401/403: the token is wrong or missing."""


class BadAnswer(HttpPosError):
    """The POS answered something the API does not allow (a missing field, a wrong type, not JSON)."""


class ApiError(HttpPosError):
    """The POS answered with the API's error body; ``code`` is its machine code (``out_of_stock``...)."""

    def __init__(self, endpoint: str, status: int, code: str, message: str, details: Mapping[str, object]) -> None:
        super().__init__(f"{endpoint}: the POS answered {status} {code}: {message}")
        self.endpoint, self.status, self.code, self.message, self.details = endpoint, status, code, message, details


def _field(error: ValidationError) -> str:
    """The first problem of a validation error as ``field 'files.0.url': Field required``."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(the body)"
    return f"field {where!r}: {first['msg']}"


class PosClient:
    """One httpx client for the plugin's life, shared by every hook's thread (httpx's pool is thread-safe)."""

    def __init__(self, settings: HttpPosSettings) -> None:
        self.settings = settings
        self._token = settings.token.get_secret_value()
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> None:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(base_url=self.settings.base_url + "/", verify=self._verify(),
                                          follow_redirects=False)

    def close(self) -> None:
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    def _verify(self) -> ssl.SSLContext | bool:
        if self.settings.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.settings.ca_file))
        return self.settings.verify_tls

    def _client(self) -> httpx.Client:
        http = self._http
        if http is None:
            raise HttpPosError("the http_pos client is not open: the host calls pos_startup before any other hook")
        return http

    # -- calls ----------------------------------------------------------------------------------

    def mask(self, text: str) -> str:
        """``text`` without the token: a POS may echo what it was sent, and an error reaches logs and the dashboard."""
        return text.replace(self._token, MASK) if self._token else text

    def call(self, method: str, path: str, model: type[M], *, key: str | None = None,
             params: Mapping[str, str | list[str]] | None = None, json: object = None, attempts: int | None = None,
             ) -> M:
        """``method path`` answered 2xx, validated as ``model``; raises ``ApiError`` for the API's error body."""
        endpoint = f"{method} {path}"
        safe = method == "GET" or key is not None
        tries = (attempts or self.settings.attempts) if safe else 1
        headers = {"Authorization": f"Bearer {self._token}"} | ({"Idempotency-Key": key} if key else {})
        last = "no try was made"
        for attempt in range(tries):
            left = deadline.time_left()
            if left <= 0:
                break
            timeout = httpx.Timeout(left, connect=min(left, self.settings.connect_timeout))
            try:
                response = self._client().request(method, path, params=params, json=json, headers=headers,
                                                  timeout=timeout)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.status_code not in RETRY_STATUSES:
                    return self._answer(endpoint, response, model)
                last = f"HTTP {response.status_code}"
            if attempt + 1 < tries:
                time.sleep(min(0.05 * 2 ** attempt, deadline.time_left()))
        raise Unreachable(self.mask(f"{endpoint}: no answer from the POS at {self.settings.base_url} within the "
                                    f"hook's deadline ({last})"))

    def _answer(self, endpoint: str, response: httpx.Response, model: type[M]) -> M:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return model.model_validate_json(response.content)
            except ValidationError as exc:
                raise BadAnswer(self.mask(f"{endpoint}: the POS answered {status} with a body the API does not "
                                          f"allow: {_field(exc)}")) from None
        if status in (401, 403):
            raise Unauthorized(f"{endpoint}: the POS refused the token ({status}): set "
                               "TEVO_BRIDGE_PLUGINS__HTTP_POS__TOKEN to the token the POS issued")
        try:
            error = ErrorBody.model_validate_json(response.content).error
        except ValidationError as exc:
            raise BadAnswer(self.mask(f"{endpoint}: the POS answered {status} without the API's error body "
                                      f"({_field(exc)}): {response.text[:200]!r}")) from None
        raise ApiError(endpoint, status, error.code, self.mask(error.message), error.details)

    def fetch(self, url: str, what: str) -> bytes:
        """A ticket file the POS named by URL, at most ``max_file_bytes``. The token goes only to the POS itself."""
        headers = {"Authorization": f"Bearer {self._token}"} if url.startswith(self.settings.base_url + "/") else {}
        left = deadline.time_left()
        timeout = httpx.Timeout(left, connect=min(left, self.settings.connect_timeout))
        try:
            with self._client().stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    raise ApiError(f"GET {url} ({what})", response.status_code, "file_unreadable",
                                   f"the file's URL answered {response.status_code}", {"url": url})
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.settings.max_file_bytes:
                        raise ApiError(f"GET {url} ({what})", 200, "file_unreadable",
                                       f"larger than max_file_bytes ({self.settings.max_file_bytes})", {"url": url})
                return bytes(body)
        except httpx.TransportError as exc:
            raise Unreachable(self.mask(f"GET {url} ({what}): {type(exc).__name__}: {exc}")) from None
