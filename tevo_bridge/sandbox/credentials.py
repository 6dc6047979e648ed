"""Sandbox credentials in TEvo's shapes: a 32-character token and a 40-character secret (§1)."""

from __future__ import annotations

import random
import re
import secrets
import string
from dataclasses import dataclass

TOKEN_PATTERN = re.compile(r"^[a-zA-Z0-9]{32}$")
SECRET_PATTERN = re.compile(r"^\S{40}$")
_TOKEN_ALPHABET = string.ascii_letters + string.digits
_SECRET_ALPHABET = _TOKEN_ALPHABET + "+/"  # like TEvo's secrets, e.g. "/3uZ9bXNe/6rx..." (§2.5 B)


@dataclass(frozen=True)
class Credentials:
    token: str
    secret: str

    def __post_init__(self) -> None:
        if not TOKEN_PATTERN.match(self.token):
            raise ValueError("token must be 32 letters and digits")
        if not SECRET_PATTERN.match(self.secret):
            raise ValueError("secret must be 40 non-space characters")


def make_credentials(token: str | None = None, secret: str | None = None, seed: int | None = None) -> Credentials:
    """Random by default; a seed makes them stable, so a seller's config survives sandbox restarts."""
    if seed is None:
        pick = secrets.choice
    else:
        pick = random.Random(f"credentials:{seed}").choice
    token = token or "".join(pick(_TOKEN_ALPHABET) for _ in range(32))
    secret = secret or "".join(pick(_SECRET_ALPHABET) for _ in range(40))
    return Credentials(token, secret)
