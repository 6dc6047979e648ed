"""``[plugins.http_pos]``: where the POS's API is, the token it wants, and how to trust its certificate.

Put the token in the environment (``TEVO_BRIDGE_PLUGINS__HTTP_POS__TOKEN``) rather than the file. It is a
``SecretStr``: its repr, a validation error and a log line show ``**********``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from tevo_bridge.paths import ConfigFilePath

__all__ = ["HttpPosSettings"]


class HttpPosSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The API's root: ``{base_url}/holds``, ``{base_url}/health``... (see openapi.yaml).
    base_url: str = Field(examples=["https://pos.example.com/tevo"])
    #: Sent as ``Authorization: Bearer <token>``.
    token: SecretStr = Field(min_length=1)
    #: Check the POS's TLS certificate (turn off only for a test POS on a private network).
    verify_tls: bool = True
    #: A CA bundle (PEM) to trust instead of the system's, for a POS with a private CA.
    ca_file: ConfigFilePath | None = None
    #: The longest wait for a connection; the whole request never outlives the hook's deadline.
    connect_timeout: float = Field(default=2.0, gt=0)
    #: Tries of one call that is safe to repeat (a read, or a write with its Idempotency-Key) when the answer
    #: is lost (connection refused or dropped, 502/503/504), all within the hook's deadline.
    attempts: int = Field(default=3, ge=1, le=10)
    #: The largest ticket PDF accepted, inline or fetched from a URL.
    max_file_bytes: int = Field(default=20_000_000, ge=1)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL, e.g. https://pos.example.com/tevo")
        return value.rstrip("/")
