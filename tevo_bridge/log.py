"""Logging: structlog processors ending in JSON lines (production) or console (a TTY).

Redaction is a processor placed just before rendering, so no call site can
forget it: every value of every event is scrubbed of the configured secrets and
of anything under a credential-looking key.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO

# structlog imports rich (and pygments behind it) when it is installed, for tracebacks this module never asks
# for: format_exc_info turns an exception into text before any renderer sees it; and greenlet (1 MiB, there when
# Playwright is) for its deprecated thread-local context, which nothing here uses.  Both are hidden while structlog
# loads, so the daemon does without them; the CLI imports rich itself when it draws a table.
_HIDDEN = () if "structlog" in sys.modules else tuple(n for n in ("rich", "greenlet") if n not in sys.modules)
for _name in _HIDDEN:
    sys.modules[_name] = None  # type: ignore[assignment]  # None: "absent", the import system's own mark
try:
    import structlog
finally:
    for _name in _HIDDEN:
        if _name in sys.modules and sys.modules[_name] is None:
            del sys.modules[_name]

from tevo_bridge.term import safe_event  # noqa: E402  (after structlog, which must come first)

MASK = "***"
SENSITIVE_KEYS = frozenset(
    {"x-token", "x-signature", "x-api-key", "token", "secret", "api_key", "api_keys", "webhook_token", "authorization"}
)


#: Values a log line carries as they are: nothing in them can hold a secret.
_PLAIN = frozenset({int, float, bool})


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
        # Numbers and None first, by exact type: most values of a line are, and the Mapping check below is an
        # ABC's (slow) before they would reach their own branch. Subclasses still take the checks below.
        if value is None or type(value) in _PLAIN:
            return value
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

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
        scrubbed: dict[str, Any] = self.scrub(event_dict)  # a Mapping in, a dict out
        return scrubbed


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
    # Console lines reach a terminal: text from TEvo or the POS must not drive it (tevo_bridge/term.py). JSON
    # needs nothing: json.dumps escapes every control character, C1 included (ensure_ascii).
    last: list[Any] = [REDACTOR] if use_json else [REDACTOR, safe_event]
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, *last, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=(lambda *args: _NamedPrintLogger(stream or sys.stderr, args[0] if args else None)),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), drop_color_message, *shared], processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta, *last, renderer]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "httpx", "httpcore"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # No access log: its request line holds the webhook path, i.e. the webhook token, and any handler
    # added beside ours (a test runner's, a seller's) would not redact it. Refusals are logged by intake.
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
    # httpx logs full URLs at INFO; quiet it so request lines stay ours.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def add_logger_name(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Every line says where it came from: the stdlib record's name, or the name given to ``get_logger``.

    So a seller can filter one part of the daemon (``uvicorn.error``, ``tevo_bridge.intake.webhooks``).
    """
    record = event_dict.get("_record")
    name = record.name if record is not None else getattr(logger, "name", None)
    event_dict.setdefault("logger", name or "tevo_bridge")
    return event_dict


def drop_color_message(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """uvicorn passes its message a second time with ANSI colour codes (``extra={"color_message": ...}``):
    noise in a JSON line, and a terminal-escape injection risk in a log viewer."""
    event_dict.pop("color_message", None)
    return event_dict


class _NamedPrintLogger(structlog.PrintLogger):
    """A ``PrintLogger`` that remembers the name it was created for (``get_logger(__name__)``)."""

    def __init__(self, file: Any, name: Any) -> None:
        super().__init__(file)
        self.name = name if isinstance(name, str) else None


class _CurrentStderrHandler(logging.StreamHandler[TextIO]):
    """A stream handler that always writes to the current ``sys.stderr``."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
