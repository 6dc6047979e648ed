"""Logging: structlog processors ending in JSON lines (production) or console (a TTY).

Redaction is a processor placed just before rendering, so no call site can
forget it: every value of every event is scrubbed of the configured secrets and
of anything under a credential-looking key.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

MASK = "***"
SENSITIVE_KEYS = frozenset(
    {"x-token", "x-signature", "x-api-key", "token", "secret", "api_key", "api_keys", "webhook_token", "authorization"}
)


class Redactor:
    """A structlog processor that masks secrets wherever they appear in an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        merged = {s for s in [*self._secrets, *secrets] if s and len(s) >= 4}
        self._secrets = sorted(merged, key=len, reverse=True)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, MASK)
            return value
        if isinstance(value, bytes):
            return self.scrub(value.decode("utf-8", "replace"))
        if isinstance(value, Mapping):
            return {k: MASK if str(k).lower() in SENSITIVE_KEYS else self.scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set)):
            return [self.scrub(v) for v in value]
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self.scrub(str(value))

    def __call__(self, logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        return self.scrub(event_dict)


REDACTOR = Redactor()


def configure_logging(
    level: str = "info", fmt: str = "auto", secrets: Iterable[str] = (), stream: Any = None
) -> None:
    """Set up structlog (and route stdlib logging, e.g. uvicorn's, through the same processors).

    Without ``stream``, lines go to whatever ``sys.stderr`` is when they are written, so a
    redirected or replaced stderr (a test runner's capture, a supervisor) is always honoured.
    """
    REDACTOR.add(secrets)
    tty = getattr(stream or sys.stderr, "isatty", lambda: False)()
    use_json = fmt == "json" or (fmt == "auto" and not tty)
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=tty)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, REDACTOR, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=(lambda *args: structlog.PrintLogger(stream or sys.stderr)),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared], processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta, REDACTOR, renderer]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # httpx logs full URLs at INFO; quiet it so request lines stay ours.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that always writes to the current ``sys.stderr``."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
