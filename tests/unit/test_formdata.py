"""The webhook's form parser reads every form as ``urllib.parse.parse_qsl`` does (intake/formdata.py)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tevo_bridge.intake.formdata import parse_form

# The bytes that matter to either decoder, often: escapes (valid, cut short, lower-case), "+", and the
# bytes quoted-printable treats specially ("=", CR, LF, "_"), beside UTF-8 text and raw high bytes.
PIECES = st.sampled_from([b"%", b"%4", b"%41", b"%e9", b"%C3%A9", b"%c3", b"%zz", b"%%", b"+", b"=", b"&", b"\r",
                          b"\n", b"\r\n", b"_", b" ", b"a", b"Z", b"0", b"\x00", b"\t", "é".encode(), b"\xff",
                          b"\xc3", b"=41", b"=\n"])
FORMS = st.lists(PIECES, max_size=40).map(b"".join)


def stdlib(raw: bytes, strict: bool, most: int) -> list[tuple[str, str]] | str:
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=strict, errors="strict",
                         max_num_fields=most)
    except ValueError as exc:  # UnicodeDecodeError among them
        return type(exc).__name__


def ours(raw: bytes, strict: bool, most: int) -> list[tuple[str, str]] | str:
    try:
        return parse_form(raw, strict_parsing=strict, max_num_fields=most)
    except ValueError as exc:
        return type(exc).__name__


@settings(max_examples=3000, deadline=None)
@given(FORMS, st.booleans(), st.integers(min_value=1, max_value=8))
def test_every_form_reads_as_parse_qsl_reads_it(raw: bytes, strict: bool, most: int) -> None:
    assert ours(raw, strict, most) == stdlib(raw, strict, most)


def test_a_webhook_with_an_order_in_its_body_reads_as_parse_qsl_reads_it() -> None:
    order = {"id": 123, "buyer": {"name": "Zoë O'Brien & Co", "email": "z+o@example.com"}, "note": "100% = ok\n",
             "items": [{"price": "1.50", "seats": "1-2"}]}
    raw = urlencode({"event_type": "order_created", "recipient": "seller", "body": json.dumps(order)}).encode()
    assert raw.count(b"%") > 20
    assert parse_form(raw, strict_parsing=True, max_num_fields=50) == stdlib(raw, True, 50)
    assert json.loads(dict(parse_form(raw, strict_parsing=True, max_num_fields=50))["body"]) == order


@pytest.mark.parametrize("raw", [b"body=%ff", b"body=%C3", b"\xff=1", b"a=1&&b=2", b"a", b"a=1&b"])
def test_bad_forms_fail_as_parse_qsl_fails(raw: bytes) -> None:
    assert ours(raw, True, 50) == stdlib(raw, True, 50) in ("UnicodeDecodeError", "ValueError")


def test_too_many_fields_fail_as_parse_qsl_fails() -> None:
    raw = b"&".join(b"f%d=1" % n for n in range(51))
    assert ours(raw, True, 50) == stdlib(raw, True, 50) == "ValueError"
