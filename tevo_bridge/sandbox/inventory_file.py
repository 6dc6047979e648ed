"""Reading ``--inventory FILE``: checked against the JSON Schema shipped beside it, every problem named.

The schema (``inventory.schema.json``) is the file format's documentation and its check at once, so
the two cannot drift. A seller's file is usually written by hand or by a script: a wrong one is
answered with ``file: listings[3].wholesale_price: must be a number``, one line per problem, and
nothing starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema_rs

from tevo_bridge.sandbox.inventory import TicketGroupSpec

__all__ = ["SCHEMA_NAME", "InventoryFileError", "inventory_schema", "load_inventory_file", "parse_inventory"]

SCHEMA_NAME = "inventory.schema.json"

_TYPE_WORDS = {"number": "a number", "integer": "a whole number", "string": "text", "array": "a list",
               "object": "an object", "boolean": "true or false", "null": "null"}


class InventoryFileError(ValueError):
    """An inventory file a seller must fix; the message names the file, then each field and the problem."""


@cache
def inventory_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(files("tevo_bridge.sandbox").joinpath(SCHEMA_NAME).read_text("utf-8"))
    return schema


def load_inventory_file(path: Path) -> list[TicketGroupSpec]:
    """The listings of ``path``, or ``InventoryFileError`` naming every problem in it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryFileError(f"{path}: cannot be read ({_reason(exc)})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryFileError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    problems = list(parse_problems(data))
    if problems:
        raise InventoryFileError("\n".join(f"{path}: {problem}" for problem in problems))
    return parse_inventory(data)


def parse_problems(data: Any) -> Iterator[str]:
    """Each problem of a parsed file, as ``field path: what is wrong``; nothing when it is good."""
    document = {"listings": data} if isinstance(data, list) else data
    errors = sorted(jsonschema_rs.validator_for(inventory_schema()).iter_errors(document),
                    key=lambda e: [str(p) for p in e.instance_path])
    for error in errors:
        yield _problem(error)
    listings = document.get("listings") if isinstance(document, dict) else None
    if isinstance(listings, list):
        yield from _duplicates([entry for entry in listings if isinstance(entry, dict)])


def parse_inventory(data: Any) -> list[TicketGroupSpec]:
    """Listings from a document that ``parse_problems`` found nothing wrong with."""
    listings = data if isinstance(data, list) else data["listings"]
    return [TicketGroupSpec.from_json(entry) for entry in listings]


def _duplicates(listings: Sequence[dict[str, Any]]) -> Iterator[str]:
    """The uniqueness a JSON Schema cannot say: one listing per remote id and per TEvo ticket group id."""
    for key in ("remote_id", "ticket_group_id"):
        first: dict[str, int] = {}
        for index, listing in enumerate(listings):
            if key not in listing:
                continue  # reported as missing
            value = str(listing[key])
            if value in first:
                yield f"{_where(['listings', index, key])}: {value!r} is already the {key} of listings[{first[value]}]"
            else:
                first[value] = index


def _problem(error: jsonschema_rs.ValidationError) -> str:
    """``field path: what is wrong``; a missing field is named in the path, where a seller looks for it."""
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return f"{_where([*error.instance_path, str(kind.property)])}: missing (required)"
    return f"{_where(error.instance_path)}: {_what(error)}"


def _where(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the file"


def _what(error: jsonschema_rs.ValidationError) -> str:
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Type):
        words = [_TYPE_WORDS.get(str(t), str(t)) for t in kind.types]
        if words == ["a number", "text"]:
            return 'must be a number (245.0, or a decimal string "245.00")'
        return "must be " + " or ".join(words)
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Pattern):
        return f'must be a number (245.0, or a decimal string "245.00"), not {error.instance!r}'
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        return f"unknown field(s) {', '.join(map(repr, kind.unexpected))} (the fields are in {SCHEMA_NAME})"
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Enum):
        return f"must be one of {', '.join(map(repr, kind.options))}, not {error.instance!r}"
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.MinItems):
        return "must not be empty"
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.UniqueItems):
        return "lists the same seat twice"
    return str(error.message)


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
