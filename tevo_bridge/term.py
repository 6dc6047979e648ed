"""Text from TEvo, the POS or a request, made safe for an operator's terminal: the one place that does it.

A remote id, a reject reason or a webhook field is chosen by someone else. Printed raw, ``\\x1b[2J`` clears
the operator's screen, ``\\x9b`` (C1 CSI) does the same on terminals that honour 8-bit controls, an OSC-8
sequence turns text into a link to anywhere, a ``\\r`` or ``\\n`` forges a line; and rich reads ``[/x]`` as
markup and raises. So every CLI line and console log line goes through ``visible`` (controls shown as
``\\x1b``-style escapes), and rich output gets ``Text`` cells or ``escape``d markup.

JSON output needs none of this: ``json.dumps`` with its default ``ensure_ascii=True`` writes every control
character, C1 included, as a ``\\u`` escape, so the data stays exact and a ``cat`` of it is harmless.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # rich is the CLI's tables; the daemon (log.py imports this module) never loads it
    from rich.text import Text

#: C0 but tab (which moves no cursor anywhere it should not), newline only where the caller lays out lines,
#: DEL, C1; the bidi marks, overrides and isolates, which reorder what the operator reads ("Trojan Source");
#: the line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object, *, lines: bool = False) -> str:
    """``value`` as text with every control character written out (``\\x1b``), so none reaches the terminal.

    ``lines`` keeps newlines (and tabs) for text the CLI itself lays out in lines; data never gets it.
    """
    text = value if isinstance(value, str) else str(value)
    return (_UNSAFE_KEEP_LINES if lines else _UNSAFE).sub(_shown, text)


def markup(value: object) -> str:
    """Data to interpolate into a rich markup string: controls written out, brackets escaped."""
    from rich.markup import escape

    return escape(visible(value))


def cell(value: object) -> Text:
    """A rich table cell holding data: a ``Text`` is never parsed as markup."""
    from rich.text import Text

    return Text("" if value is None else visible(value))


def echo(message: str, *, err: bool = False) -> None:
    """``typer.echo`` for a CLI line that may hold data: its own newlines stay, everything else is shown."""
    typer.echo(visible(message, lines=True), err=err)


def safe_event(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor for the console renderer: every string in the event shown with its controls
    written out (keys too). A traceback keeps its lines; any other value is one line, so none can forge a
    log line. Nested values need nothing: the renderer ``repr``s them, which escapes controls itself."""
    return {visible(key): _safe_value(key, value) for key, value in event_dict.items()}


def _safe_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return visible(value, lines=key in ("exception", "stack"))


__all__ = ["cell", "echo", "markup", "safe_event", "visible"]
