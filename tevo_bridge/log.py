"""Logging: structlog processors ending in JSON lines (production) or console (a TTY).

Redaction is a processor placed just before rendering, so no call site can
forget it: every value of every event is scrubbed of the configured secrets and
of anything under a credential-looking key.
"""

from __future__ import annotations

import json
import logging
import sys
import time
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

#: The stdout structlog's PrintLogger took at its import: a logger for it writes to whatever stdout is then.
_STDOUT = sys.stdout

MASK = "***"
SENSITIVE_KEYS = frozenset(
    {"x-token", "x-signature", "x-api-key", "token", "secret", "api_key", "api_keys", "webhook_token", "authorization"}
)


#: Values a log line carries as they are: nothing in them can hold a secret.
_PLAIN = frozenset({int, float, bool})
#: Whether a key is sensitive, by key, as the redactor met them: a line's keys are the call sites' own few names,
#: so ``lower()`` and the set look-up run once per name, not once per key per line. Bounded, since a nested
#: mapping's keys (a refused body's field names) can come from a caller.
_KEY_SENSITIVE: dict[str, bool] = {}
_KEY_CACHE_MAX = 4096


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
        kind = type(value)
        if value is None or kind in _PLAIN:
            return value
        if kind is dict:  # a line's own event dict and most nested values: no ABC check needed
            return self._scrub_dict(value)
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, MASK)
            return value
        if isinstance(value, bytes):
            return self.scrub(value.decode("utf-8", "replace"))
        if isinstance(value, Mapping):
            return {k: MASK if _sensitive(k) else self.scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set)):
            return [self.scrub(v) for v in value]
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        return self.scrub(str(value))

    def _scrub_dict(self, value: dict[Any, Any]) -> dict[Any, Any]:
        """The Mapping branch of ``scrub`` for a plain dict, the commonest values (``None``, numbers, ``str``)
        handled in line: a line's dozen fields cost a call each otherwise."""
        scrubbed: dict[Any, Any] = {}
        known = _KEY_SENSITIVE
        for key, item in value.items():
            kind = type(item)
            sensitive = known.get(key) if type(key) is str else None
            if sensitive is None:
                sensitive = _sensitive(key)
            if sensitive:
                scrubbed[key] = MASK
            elif item is None or kind in _PLAIN:
                scrubbed[key] = item
            elif kind is str:
                for secret in self._secrets:
                    if secret in item:
                        item = item.replace(secret, MASK)
                scrubbed[key] = item
            else:
                scrubbed[key] = self.scrub(item)
        return scrubbed

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
        scrubbed: dict[str, Any] = self.scrub(event_dict)  # a Mapping in, a dict out
        return scrubbed


def _sensitive(key: Any) -> bool:
    """``str(key).lower() in SENSITIVE_KEYS``, remembered for ``str`` keys."""
    found = _KEY_SENSITIVE.get(key) if type(key) is str else None
    if found is None:
        if type(key) is not str:
            return str(key).lower() in SENSITIVE_KEYS
        found = key.lower() in SENSITIVE_KEYS
        if len(_KEY_SENSITIVE) < _KEY_CACHE_MAX:
            _KEY_SENSITIVE[key] = found
    return found


REDACTOR = Redactor()


#: The last second a line was stamped in, and its date and time of day as ``add_timestamp`` writes them.
_SECOND: list[tuple[int, str]] = [(-1, "")]


def add_timestamp(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """``TimeStamper(fmt="iso", utc=True)``'s field with the same text, the date and time of day formatted once
    per second instead of once per line (a datetime, its ``isoformat`` and a ``replace`` were a tenth of a line's
    cost)."""
    event_dict["timestamp"] = iso_utc(time.time_ns() // 1000)
    return event_dict


def iso_utc(micros: int) -> str:
    """``datetime.fromtimestamp(micros / 1e6, UTC).isoformat()`` with ``Z`` for ``+00:00`` (no fraction on a whole
    second), for microseconds since the epoch."""
    second, fraction = divmod(micros, 1_000_000)
    stamped, text = _SECOND[0]
    if stamped != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _SECOND[0] = (second, text)  # one tuple: a thread reading it meanwhile sees an old pair or the new one
    return f"{text}.{fraction:06d}Z" if fraction else f"{text}Z"


def _json_fallback(value: Any) -> Any:
    """structlog's fallback for what JSON cannot hold (``__structlog__``, else ``repr``); after the redactor,
    which turns every unknown value into a ``str``, only a subclass of a plain type can get here."""
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


class JsonLines:
    """structlog's ``JSONRenderer()`` (``json.dumps(event_dict, default=...)``) with its encoder made once:
    ``json.dumps`` with any argument builds a new ``JSONEncoder`` for every line. The same text."""

    def __init__(self) -> None:
        self._encode = json.JSONEncoder(default=_json_fallback).encode

    def __call__(self, logger: Any, method: str, event_dict: Mapping[str, Any]) -> str:
        return self._encode(event_dict)


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
    renderer: Any = JsonLines() if use_json else structlog.dev.ConsoleRenderer(colors=tty)
    # Console lines reach a terminal: text from TEvo or the POS must not drive it (tevo_bridge/term.py). JSON
    # needs nothing: json.dumps escapes every control character, C1 included (ensure_ascii).
    last: list[Any] = [REDACTOR] if use_json else [REDACTOR, safe_event]
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        add_logger_name,
        add_timestamp,
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, *last, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=(lambda *args: _NamedPrintLogger(stream or sys.stderr, args[0] if args else None)),
        cache_logger_on_first_use=False,
    )
    _CONFIGURED[0] += 1
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

    def msg(self, message: str) -> None:
        """The line and its newline in one ``write``. ``print`` writes them apart: on an unbuffered stream
        (``PYTHONUNBUFFERED=1``, as deploy/tevo-bridge.service runs the daemon) that was two ``write(2)``s per
        line, each letting go of the GIL, which the event loop then waits to take back."""
        file = sys.stdout if self._file is _STDOUT else self._file  # as PrintLogger: the current stdout
        with self._lock:
            file.write(message + "\n")
            file.flush()

    log = debug = info = warn = warning = msg  # PrintLogger's aliases name its own msg: named again here
    fatal = failure = err = error = critical = exception = msg


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


#: How many times ``configure_logging`` ran: a logger assembled under an earlier count assembles itself again.
_CONFIGURED = [0]


class _Logger:
    """What ``get_logger`` returns: a name, and the logger structlog assembles for it kept between lines.

    structlog's lazy proxy (``cache_logger_on_first_use=False``) assembled a new bound logger, print logger and
    lock look-up for every line, a tenth of a line's cost on the hold's path. Caching it in structlog instead
    would keep the first configuration forever, and the stream it found then; this one assembles it again once
    ``configure_logging`` has run since (new level, renderer, stream) or ``sys.stderr`` was replaced (lines go
    to the current one, as documented there). Methods and ``bind`` are the assembled logger's own.
    """

    __slots__ = ("_name", "_made")

    def __init__(self, name: str | None) -> None:
        self._name = name
        # (configure count, sys.stderr, logger), one tuple so that another thread reads a consistent triple
        self._made: tuple[int, object, Any] = (-1, None, None)

    def __getattr__(self, attr: str) -> Any:
        configured, stderr, bound = self._made
        if configured != _CONFIGURED[0] or stderr is not sys.stderr:
            stderr = sys.stderr
            configured = _CONFIGURED[0]
            bound = structlog.get_logger(self._name).bind()
            self._made = (configured, stderr, bound)
        return getattr(bound, attr)


def get_logger(name: str | None = None) -> Any:
    return _Logger(name)
