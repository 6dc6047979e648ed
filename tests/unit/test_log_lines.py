"""The log line's cheaper parts write what structlog's own did, byte for byte, and follow reconfiguration."""

import io
import json
import random
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import structlog

from tevo_bridge.log import JsonLines, Redactor, configure_logging, get_logger, iso_utc


def structlog_stamp(micros: int) -> str:
    """What ``TimeStamper(fmt="iso", utc=True)`` writes for that instant."""
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    return moment.isoformat().replace("+00:00", "Z")


def test_the_timestamp_is_structlogs_text_within_a_second_across_seconds_and_on_whole_seconds():
    rng = random.Random(24)
    start = 1_796_000_000 * 1_000_000
    instants = [start, start + 1, start + 999_999, start + 1_000_000, start + 1_000_001, 0, 951_782_400_000_000]
    instants += sorted(start + rng.randrange(5_000_000) for _ in range(500))  # the per-second cache, in order
    instants += [rng.randrange(4_102_444_800_000_000) for _ in range(500)]  # and out of order, to 2100
    for micros in instants:
        assert iso_utc(micros) == structlog_stamp(micros), micros


def test_a_lines_timestamp_is_now_in_utc(tmp_path):
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    try:
        before = datetime.now(UTC)
        get_logger("t").info("stamped")
        after = datetime.now(UTC)
    finally:
        configure_logging("warning", "json")
    stamp = json.loads(out.getvalue())["timestamp"]
    assert stamp.endswith("Z") and before <= datetime.fromisoformat(stamp) <= after


class Custom:
    def __structlog__(self) -> str:
        return "custom!"


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


@pytest.mark.parametrize("event", [
    {"event": "oi.hold", "global_id": "g", "quantity": 2, "ms": 1.5, "closed": None, "held": True},
    {"event": "é ☃ \U0001f600 \x00\x1b[31m \u2028 \ud800", "nested": {"a": [1, 2.5, None, "x"]}, "n": -0.0},
    {"event": "floats", "nan": float("nan"), "inf": float("inf"), "big": 10**30, "d": Decimal("1.10")},
    {"event": "objects", "custom": Custom(), "opaque": Opaque(), "tuple": (1, "a"), 3: "int key"},
])
def test_the_json_renderer_writes_structlogs_bytes(event):
    assert JsonLines()(None, "info", event) == structlog.processors.JSONRenderer()(None, "info", event)


def test_the_redactors_dict_path_masks_by_key_whatever_the_case_and_by_value_at_any_depth():
    redactor = Redactor(["oi-api-key-123456"])

    class Text(str):
        pass

    event = {"event": "x oi-api-key-123456", "X-Api-Key": "anything", "TOKEN": 5, 7: "seven", ("a", 1): "tuple key",
             "label": Text("t"), "raw": b"oi-api-key-123456", "items": [{"Secret": "s"}, "oi-api-key-123456"],
             "deep": {"deeper": {"api_keys": ["a"], "note": "oi-api-key-123456!"}}}
    for _ in range(2):  # the second time from the remembered keys
        assert redactor(None, "info", event) == {
            "event": "x ***", "X-Api-Key": "***", "TOKEN": "***", 7: "seven", ("a", 1): "tuple key", "label": "t",
            "raw": "***", "items": [{"Secret": "***"}, "***"], "deep": {"deeper": {"api_keys": "***", "note": "***!"}}}
    assert type(redactor.scrub({"label": Text("t")})["label"]) is Text  # a subclass comes out as it went in


def test_a_str_key_whose_text_names_a_secret_is_masked_even_when_its_class_says_otherwise():
    class Key(str):
        def __str__(self) -> str:
            return "token"

    assert Redactor().scrub({Key("harmless"): "v"}) == {Key("harmless"): "***"}


def test_a_logger_follows_reconfiguration_of_level_and_stream():
    first, second = io.StringIO(), io.StringIO()
    log = get_logger("t")
    try:
        configure_logging("info", "json", stream=first)
        log.info("one")
        log.debug("hidden")
        configure_logging("debug", "json", stream=second)
        log.debug("two")
    finally:
        configure_logging("warning", "json")
    assert [json.loads(line)["event"] for line in first.getvalue().splitlines()] == ["one"]
    assert [json.loads(line)["event"] for line in second.getvalue().splitlines()] == ["two"]


def test_a_logger_writes_to_the_current_stderr_when_it_is_replaced(monkeypatch):
    log = get_logger("t")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("info", "json")
    try:
        log.info("one")
        monkeypatch.setattr(sys, "stderr", second)
        log.info("two")
        log.bind(order_id=1).info("three")
    finally:
        configure_logging("warning", "json")
    assert [json.loads(line)["event"] for line in first.getvalue().splitlines()] == ["one"]
    lines = [json.loads(line) for line in second.getvalue().splitlines()]
    assert [r["event"] for r in lines] == ["two", "three"] and lines[1]["order_id"] == 1
    assert all(r["logger"] == "t" for r in lines)


class CountingFile(io.FileIO):
    """A file's raw layer that counts its writes: each is one write(2)."""

    writes = 0

    def write(self, data):  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_a_line_is_one_write_on_an_unbuffered_stream(tmp_path):
    """PYTHONUNBUFFERED=1 (deploy/tevo-bridge.service) makes stderr a text layer straight on the raw file, as here."""
    raw = CountingFile(tmp_path / "log", "w")
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    configure_logging("info", "json", stream=stream)
    try:
        log = get_logger("t")
        log.info("one", n=1)
        log.warning("two")
        log.bind(order_id=7).error("three")
    finally:
        configure_logging("warning", "json")
        stream.close()
    lines = [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()]
    assert [(r["event"], r["level"]) for r in lines] == [("one", "info"), ("two", "warning"), ("three", "error")]
    assert lines[2]["order_id"] == 7
    assert raw.writes == 3
