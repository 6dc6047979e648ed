"""Who is looking at the dashboard: password hashes, signed session cookies, CSRF tokens, login rate limits.

The session lives in a cookie signed with ``[dashboard] session_secret`` (itsdangerous). It names
the auth mode that minted it and a fingerprint of the password hash, so a cookie from a no-login
dashboard sharing the secret, or from before a password change, is refused. Logging out records the
session id in the store (``revoke_session``) until it would have expired anyway, so the logout holds
across restarts and replicas. Every session carries its own CSRF token, and every POST must echo it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
LOGIN_FAILURES_ALLOWED = 5  # per client address, within LOGIN_WINDOW
LOGIN_WINDOW = 300.0
#: Wrong passwords from all addresses together within LOGIN_WINDOW: a spray from many addresses is limited too
#: (at the price that it also locks the operator's login out until the window passes; open sessions stay).
LOGIN_BUDGET = 30
#: scrypt takes ~50 ms of a core: at most this many run at once, on threads of their own, and this many more
#: wait; beyond that a login is answered 503 at once, so guesses never queue up in front of intake.
PASSWORD_THREADS = 2
PASSWORD_WAITING = 2


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash``: the line ``[dashboard] password_hash`` takes (stdlib scrypt, no extra dependency)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def valid_hash(stored: str) -> bool:
    parts = stored.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(p.isdigit() for p in parts[1:4])


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison of the scrypt digests; False for a malformed hash rather than an error."""
    if not valid_hash(stored):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    try:
        expected = _unb64(digest)
        got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected), maxmem=128 * 1024 * 1024)
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str
    user: str | None  # None: not logged in (a login form's session, or auth = "none" before it names one)


class Sessions:
    """Signs and reads session cookies bound to the auth mode and the password in force."""

    COOKIE = "tevo_bridge_session"

    def __init__(self, secret: str, max_age: float, mode: str = "none", password_hash: str = "") -> None:
        # Imported here: `run` checks the password hash with this module, and needs no signer without a dashboard.
        from itsdangerous import URLSafeTimedSerializer

        self.max_age = max_age
        self.mode = mode
        key = secret or secrets.token_urlsafe(32)
        self._signer = URLSafeTimedSerializer(key, salt="tevo-bridge-dashboard")
        # Keyed by the session secret so the cookie tells nothing about the hash; changes when the password does.
        mac = hmac.new(key.encode(), b"password:" + password_hash.encode(), hashlib.sha256)
        self.fingerprint = mac.hexdigest()[:16]

    def new(self, user: str | None) -> Session:
        return Session(secrets.token_urlsafe(16), secrets.token_urlsafe(24), user)

    def dump(self, session: Session) -> str:
        return self._signer.dumps({"s": session.sid, "c": session.csrf, "u": session.user, "m": self.mode,
                                   "f": self.fingerprint})

    def load(self, cookie: str | None) -> Session | None:
        """The cookie's session, or None: unsigned, expired, minted in another auth mode or for another password."""
        if not cookie or len(cookie) > 4096:
            return None
        from itsdangerous import BadSignature

        try:
            data = self._signer.loads(cookie, max_age=self.max_age)  # type: ignore[arg-type]  # a float works too
        except BadSignature:  # also an expired one (SignatureExpired is a BadSignature)
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("s", "c", "m", "f")):
            return None
        if data["m"] != self.mode or not hmac.compare_digest(data["f"].encode(), self.fingerprint.encode()):
            return None
        user = data.get("u")
        return Session(data["s"], data["c"], user if isinstance(user, str) else None)

    def revoked_until(self) -> float:
        """Until when a session revoked now must stay revoked: after that its cookie has expired anyway."""
        return time.time() + self.max_age


def csrf_ok(session: Session | None, token: str | None) -> bool:
    if session is None or not token:
        return False
    return hmac.compare_digest(session.csrf.encode(), token.encode())


class LoginLimiter:
    """At most ``allowed`` login attempts per client address, and ``budget`` from everyone, within ``window``.

    An attempt counts from the moment it is let through (so parallel guesses cannot all pass before
    the first is judged) and is forgotten when it succeeds. Memory stays bounded without forgetting
    anyone: an attempt is only recorded while the global budget has room, so at most ``budget``
    attempts are remembered, each until it ages out of the window.
    """

    def __init__(self, allowed: int = LOGIN_FAILURES_ALLOWED, window: float = LOGIN_WINDOW,
                 budget: int = LOGIN_BUDGET, clock: Callable[[], float] = time.monotonic) -> None:
        self.allowed, self.window, self.budget, self.clock = allowed, window, budget, clock
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def attempt(self, client: str) -> int:
        """0: go ahead (counted as a failure until ``succeeded``); else seconds until this client may try again."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            mine = self._failures.get(client)
            if mine is not None and len(mine) >= self.allowed:
                return self._wait(mine[0], now)
            if len(self._all) >= self.budget:
                return self._wait(self._all[0], now)
            self._failures.setdefault(client, deque()).append(now)
            self._all.append(now)
            return 0

    def succeeded(self, client: str) -> None:
        with self._lock:
            for at in self._failures.pop(client, ()):
                if at in self._all:
                    self._all.remove(at)

    def remembered(self) -> int:
        """Attempts held in memory (bounded by ``budget``)."""
        with self._lock:
            return len(self._all)

    def _wait(self, oldest: float, now: float) -> int:
        return max(1, int(oldest + self.window - now) + 1)

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self._all and self._all[0] <= horizon:
            self._all.popleft()
        for client in list(self._failures):
            failures = self._failures[client]
            while failures and failures[0] <= horizon:
                failures.popleft()
            if not failures:
                del self._failures[client]


class PasswordChecks:
    """scrypt off the event loop the intake shares, on a small pool of its own, with a bounded queue."""

    def __init__(self, threads: int = PASSWORD_THREADS, waiting: int = PASSWORD_WAITING) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tevo-bridge-login")
        self._slots = threads + waiting
        self._busy = 0  # touched only on the event loop's thread

    async def verify(self, password: str, stored: str) -> bool | None:
        """Whether the password matches; None when the pool is saturated (answer 503 at once, never queue)."""
        if self._busy >= self._slots:
            return None
        self._busy += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, verify_password, password, stored)
        finally:
            self._busy -= 1
