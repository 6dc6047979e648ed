"""Who is looking at the dashboard: password hashes, signed session cookies, CSRF tokens, login rate limits.

The session lives in a cookie signed with ``[dashboard] session_secret`` (itsdangerous), so the
daemon keeps no session table; logging out revokes the session id in memory until it would have
expired anyway. Every session carries its own CSRF token, and every POST must echo it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
LOGIN_FAILURES_ALLOWED = 5  # per client address, within LOGIN_WINDOW
LOGIN_WINDOW = 300.0


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
    """Signs and reads session cookies; remembers logged-out session ids until they would expire."""

    COOKIE = "tevo_bridge_session"

    def __init__(self, secret: str, max_age: float) -> None:
        self.max_age = max_age
        self._signer = URLSafeTimedSerializer(secret or secrets.token_urlsafe(32), salt="tevo-bridge-dashboard")
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def new(self, user: str | None) -> Session:
        return Session(secrets.token_urlsafe(16), secrets.token_urlsafe(24), user)

    def dump(self, session: Session) -> str:
        return self._signer.dumps({"s": session.sid, "c": session.csrf, "u": session.user})

    def load(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 4096:
            return None
        try:
            data = self._signer.loads(cookie, max_age=self.max_age)  # type: ignore[arg-type]  # a float works too
        except BadSignature:  # also an expired one (SignatureExpired is a BadSignature)
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("s", "c")):
            return None
        user = data.get("u")
        with self._lock:
            if data["s"] in self._revoked:
                return None
        return Session(data["s"], data["c"], user if isinstance(user, str) else None)

    def revoke(self, session: Session) -> None:
        now = time.time()
        with self._lock:
            self._revoked = {sid: until for sid, until in self._revoked.items() if until > now}
            self._revoked[session.sid] = now + self.max_age


def csrf_ok(session: Session | None, token: str | None) -> bool:
    if session is None or not token:
        return False
    return hmac.compare_digest(session.csrf.encode(), token.encode())


class LoginLimiter:
    """At most ``allowed`` failed logins per client address within ``window`` seconds; then 429 until one ages out."""

    def __init__(self, allowed: int = LOGIN_FAILURES_ALLOWED, window: float = LOGIN_WINDOW) -> None:
        self.allowed, self.window = allowed, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until this client may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(client)
            if not failures:
                return 0
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if len(failures) < self.allowed:
                return 0
            return max(1, int(failures[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
                self._failures.clear()
            self._failures.setdefault(client, deque()).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
