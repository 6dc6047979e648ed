"""The SkyBox HTTP client: auth headers, pacing per endpoint, retries, deadlines and masked errors.

Reads are retried (429 after ``Retry-After``, 5xx and network errors with backoff). A write is sent
once per call (429 aside, which SkyBox answered without acting): after a timeout or a 5xx its outcome
is unknown, and only the caller can find out by searching for its ``externalRef``, so the client
raises ``Uncertain`` rather than risk a second hold or invoice.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import stamina

from tevo_bridge.log import REDACTOR
from tevo_bridge_skybox_pos.settings import SkyBoxSettings

__all__ = [
    "AuthFailed", "BadRequest", "Deadline", "DeadlineExceeded", "NotFound", "Pacer", "SkyBoxClient",
    "SkyBoxError", "Uncertain", "Unavailable",
]

MASK = "***"


class SkyBoxError(Exception):
    """SkyBox answered something the plugin cannot use; the message never holds a token."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status, self.body = status, body


class AuthFailed(SkyBoxError):
    """401 (a token is wrong) or 404 on ``/account`` (``X-Account`` names no account)."""


class BadRequest(SkyBoxError):
    """400: SkyBox refused the request and changed nothing (the body's shape is SkyBox's own)."""


class NotFound(SkyBoxError):
    pass


class Unavailable(SkyBoxError):
    """SkyBox did not answer usefully in time (5xx, network, rate limit beyond the deadline)."""


class DeadlineExceeded(Unavailable):
    pass


class Uncertain(Unavailable):
    """A write may or may not have happened (timeout or 5xx after sending): search before retrying."""


class _RateLimited(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__(f"429, Retry-After {retry_after}")
        self.retry_after = retry_after


class _Transient(Exception):
    pass


class Deadline:
    """The time a hook has left; every call and every wait is cut to it."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self, what: str) -> float:
        left = self.left()
        if left <= 0:
            raise DeadlineExceeded(f"no time left for {what}")
        return left


class Pacer:
    """A token bucket per endpoint family, so one busy hook cannot spend another endpoint's allowance."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def acquire(self, key: str, deadline: Deadline) -> None:
        with self._lock:
            moment = time.monotonic()
            tokens, at = self._buckets.get(key, (float(self.burst), moment))
            tokens = min(float(self.burst), tokens + (moment - at) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            if wait > deadline.left():
                raise DeadlineExceeded(f"{key}: paced calls leave no room within the deadline")
            self._buckets[key] = (tokens - 1, moment)
        if wait:
            time.sleep(wait)


@dataclass(frozen=True)
class _Call:
    method: str
    path: str

    @property
    def family(self) -> str:
        parts = [p for p in self.path.split("/") if p]
        return f"{self.method} /{parts[0] if parts else ''}"


class SkyBoxClient:
    def __init__(self, settings: SkyBoxSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._secrets = settings.secrets()
        REDACTOR.add(self._secrets)  # the daemon's log processor masks them in every line
        self._http = httpx.Client(
            base_url=settings.base_url,
            headers={
                "X-Account": str(settings.account_id),
                "X-Api-Token": settings.api_token.get_secret_value(),
                "X-Application-Token": settings.application_token.get_secret_value(),
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            transport=transport,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self.pacer = Pacer(settings.calls_per_second, settings.burst)

    def close(self) -> None:
        self._http.close()

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, MASK)
        return text

    # -- the calls ---------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, deadline: Deadline) -> Any:
        """A read, retried until ``deadline`` on 429, 5xx and network errors."""
        return self._retried(_Call("GET", path), params, None, deadline, write=False)

    def write(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
              deadline: Deadline) -> Any:
        """A write, repeated only after a 429 (SkyBox did nothing); any doubt raises ``Uncertain``."""
        return self._retried(_Call(method, path), params, body, deadline, write=True)

    def search(self, path: str, params: Mapping[str, Any], *, deadline: Deadline) -> list[dict[str, Any]]:
        """Every row of a search, whether SkyBox answers a bare list or ``{rows, rowCount}``, pages from 0 or 1."""
        limit = self.settings.page_size
        rows, total = _rows(self.get(path, {**params, "limit": limit}, deadline=deadline))
        if _complete(rows, total, rows, limit):
            return rows
        # More than a page. Page 1 is either the first page again (numbering from 1) or the second.
        second, total = _rows(self.get(path, {**params, "limit": limit, "pageNumber": 1}, deadline=deadline))
        out = list(rows)
        if not (second and rows and second[0] == rows[0]):
            out += second
            if _complete(out, total, second, limit):
                return out
        page = 2
        while True:
            more, total = _rows(self.get(path, {**params, "limit": limit, "pageNumber": page}, deadline=deadline))
            out += more
            if _complete(out, total, more, limit):
                return out
            page += 1

    # -- plumbing ----------------------------------------------------------------------------------

    def _retried(self, call: _Call, params: Mapping[str, Any] | None, body: Any, deadline: Deadline,
                 *, write: bool) -> Any:
        try:
            for attempt in stamina.retry_context(on=self._backoff(deadline, only_rate_limit=write), attempts=None,
                                                 timeout=max(deadline.left(), 0.001), wait_initial=0.05,
                                                 wait_max=2.0, wait_jitter=0.05):
                with attempt:
                    return self._send(call, params, body, deadline, write=write)
        except _RateLimited as exc:
            raise Unavailable(f"{call.method} {call.path}: rate limited by SkyBox ({exc})", 429) from None
        except _Transient as exc:
            raise Unavailable(str(exc)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, deadline: Deadline, only_rate_limit: bool = False) -> Any:
        """stamina's retry decision and wait: ``Retry-After`` when given, else exponential; never past ``deadline``."""
        tries = itertools.count()

        def hook(exc: Exception) -> bool | float:
            if isinstance(exc, _RateLimited) and exc.retry_after is not None:
                wait = exc.retry_after
            elif isinstance(exc, _RateLimited) or (isinstance(exc, _Transient) and not only_rate_limit):
                wait = min(0.05 * 2 ** next(tries), 2.0) * random.uniform(1.0, 1.25)
            else:
                return False
            return wait if wait < deadline.left() - 0.05 else False
        return hook

    def _send(self, call: _Call, params: Mapping[str, Any] | None, body: Any, deadline: Deadline,
              *, write: bool) -> Any:
        self.pacer.acquire(call.family, deadline)
        left = deadline.check(f"{call.method} {call.path}")
        timeout = httpx.Timeout(min(self.settings.read_timeout, left), connect=min(self.settings.connect_timeout, left))
        try:
            response = self._http.request(call.method, call.path, params=_query(params), json=body, timeout=timeout)
        except httpx.TransportError as exc:
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            message = f"{call.method} {call.path}: {type(exc).__name__}"
            if write and sent:
                raise Uncertain(message) from None
            if deadline.left() <= 0:
                raise Unavailable(message) from None
            raise _Transient(message) from None
        status = response.status_code
        text = self.mask(response.text[:500])
        if status == 429:
            raise _RateLimited(_retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            message = f"{call.method} {call.path}: SkyBox answered {status}: {text}"
            if write:
                raise Uncertain(message, status, text)
            raise _Transient(message)
        if status == 401:
            raise AuthFailed(f"{call.method} {call.path}: 401 not authorized: SkyBox refused X-Api-Token or "
                             f"X-Application-Token (or X-Account {self.settings.account_id}): {text}", status, text)
        if status == 404:
            raise NotFound(f"{call.method} {call.path}: 404: {text}", status, text)
        if status == 400:
            raise BadRequest(f"{call.method} {call.path}: 400: {text}", status, text)
        if status >= 300:
            raise SkyBoxError(f"{call.method} {call.path}: unexpected {status}: {text}", status, text)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text


def _query(params: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...] | None:
    """Lists repeat their key (``externalRef=A&externalRef=B``), as SkyBox's array filters expect."""
    if params is None:
        return None
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        out += [(key, str(v).lower() if isinstance(v, bool) else str(v)) for v in values if v is not None]
    return tuple(out)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _rows(answer: Any) -> tuple[list[dict[str, Any]], int | None]:
    if isinstance(answer, list):
        return answer, None
    if isinstance(answer, dict) and isinstance(answer.get("rows"), list):
        count = answer.get("rowCount")
        return answer["rows"], count if isinstance(count, int) else None
    if isinstance(answer, dict):
        return [answer], 1  # an endpoint declared to return one object
    return [], 0


def _complete(have: list[Any], total: int | None, page: list[Any], limit: int) -> bool:
    if total is not None:
        return len(have) >= total or not page
    return len(page) < limit
