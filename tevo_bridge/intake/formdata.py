"""A url-encoded form's fields as ``urllib.parse.parse_qsl`` reads them, with the percent-decoding done in C.

TEvo's webhook carries the whole order as JSON in its ``body`` field, url-encoded: a 5 KB form holds ~800
``%XX`` escapes, and ``urllib.parse.unquote`` decodes them in a Python loop (~150 µs per webhook, more than
the rest of the webhook's parsing and validation together). ``binascii.a2b_qp`` decodes ``=XX`` escapes in
C. A field with no ``=``, CR or LF of its own (the only other bytes quoted-printable treats specially)
decodes the same with each ``%`` read as ``=`` when every ``%`` starts a valid escape, which the decoded
length proves (each valid escape, and only a valid one, takes two bytes off); any other field goes to
``unquote`` as before. Same pairs, same errors as ``parse_qsl(text, keep_blank_values=True, errors="strict",
...)`` (tests/unit/test_formdata.py checks it against ``parse_qsl`` on generated forms).
"""

from __future__ import annotations

import binascii
from urllib.parse import unquote

__all__ = ["parse_form"]


def parse_form(raw: bytes, *, strict_parsing: bool, max_num_fields: int) -> list[tuple[str, str]]:
    """``parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=..., errors="strict",
    max_num_fields=...)``: ``ValueError`` (``UnicodeDecodeError`` among them) where it raises."""
    raw.decode("utf-8")  # text first, as the caller of parse_qsl decodes it: raw bytes that are not UTF-8 fail
    fields = raw.split(b"&") if raw else []  # "&" and "=" are ASCII: never inside a UTF-8 sequence
    if len(fields) > max_num_fields:
        raise ValueError("Max number of fields exceeded")
    pairs: list[tuple[str, str]] = []
    for field in fields:
        if not field and not strict_parsing:
            continue
        name, equals, value = field.partition(b"=")
        if not equals and strict_parsing:
            raise ValueError(f"bad query field: {field.decode('utf-8')!r}")
        pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs


def _unquote_plus(field: bytes) -> str:
    field = field.replace(b"+", b" ")
    escapes = field.count(b"%")
    if not escapes:
        return field.decode("utf-8")  # what unquote returns for a text without "%", without its call
    if b"=" not in field and b"\r" not in field and b"\n" not in field:
        decoded = binascii.a2b_qp(field.replace(b"%", b"="))
        if len(decoded) == len(field) - 2 * escapes:  # every "%" began a valid escape: decoded as unquote does
            return decoded.decode("utf-8")
    return unquote(field.decode("utf-8"), errors="strict")
