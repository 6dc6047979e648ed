"""No secret reaches a log line, whatever the call site passes."""

import io
import json
import logging

import pytest

from tevo_bridge.log import Redactor, configure_logging, get_logger

SECRETS = ["T0kenT0kenT0kenT0kenT0kenT0ken12", "S" * 40, "oi-api-key-123456", "webhook-path-token-abcdefghijklmnop"]


@pytest.fixture
def stream():
    out = io.StringIO()
    configure_logging("debug", "json", SECRETS, stream=out)
    yield out
    configure_logging("warning", "json")


def lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_secrets_are_masked_in_values_messages_and_nesting(stream):
    log = get_logger("t")
    log.info(f"calling with {SECRETS[0]}", url=f"/webhooks/tevo/{SECRETS[3]}",
             headers={"X-Token": "anything", "X-Signature": "sig==", "Accept": "application/json"},
             nested=[{"key": SECRETS[2]}], raw=SECRETS[1].encode())
    text = stream.getvalue()
    for secret in [*SECRETS, "sig=="]:
        assert secret not in text
    record = lines(stream)[0]
    assert record["headers"]["X-Token"] == "***" and record["headers"]["Accept"] == "application/json"
    assert record["url"] == "/webhooks/tevo/***"


def test_exceptions_are_masked(stream):
    try:
        raise RuntimeError(f"boom {SECRETS[1]}")
    except RuntimeError:
        get_logger("t").exception("failed")
    assert SECRETS[1] not in stream.getvalue() and "boom ***" in stream.getvalue()


def test_stdlib_logging_goes_through_the_redactor(stream):
    logging.getLogger("uvicorn.error").warning("key %s", SECRETS[2])
    assert SECRETS[2] not in stream.getvalue() and "key ***" in stream.getvalue()


def test_json_lines_when_not_a_tty(stream):
    get_logger("t").info("hello", order_id=1)
    record = lines(stream)[0]
    assert record["event"] == "hello" and record["order_id"] == 1 and record["level"] == "info"


def test_redactor_masks_a_longer_secret_before_a_shorter_one_inside_it():
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.scrub("xx abcdefgh yy") == "xx *** yy"


def test_every_line_names_its_logger_and_uvicorn_lines_carry_no_ansi_copy(stream):
    get_logger("tevo_bridge.intake.webhooks").info("ours")
    # warning: an in-process uvicorn elsewhere in the suite may have set this logger's level to warning
    logging.getLogger("uvicorn.error").warning("Started server process [%d]", 7,
                                               extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"})
    ours, theirs = lines(stream)
    assert ours["logger"] == "tevo_bridge.intake.webhooks"
    assert theirs["logger"] == "uvicorn.error" and theirs["event"] == "Started server process [7]"
    assert "color_message" not in theirs and "\x1b" not in stream.getvalue()
    assert all(r["timestamp"].endswith("Z") for r in (ours, theirs))


def test_info_level_writes_no_debug_line_from_structlog_or_stdlib():
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    try:
        get_logger("t").debug("hidden")
        logging.getLogger("uvicorn.error").debug("hidden too")
        get_logger("t").info("shown")
    finally:
        configure_logging("warning", "json")
    assert [r["event"] for r in lines(out)] == ["shown"]


def test_numbers_booleans_and_none_pass_through_while_secrets_beside_them_are_masked():
    redactor = Redactor(["oi-api-key-123456"])

    class Count(int):  # a subclass takes the general checks, and comes out as it went in, as before
        pass

    event = {"event": "oi.hold", "quantity": 2, "ms": 1.5, "closed": None, "held": True, "status": 200,
             "token": 7, "count": Count(3), "detail": "key oi-api-key-123456 sent", "nested": {"Secret": 1.0, "n": 0}}
    scrubbed = redactor(None, "info", event)
    assert scrubbed == {"event": "oi.hold", "quantity": 2, "ms": 1.5, "closed": None, "held": True, "status": 200,
                        "token": "***", "count": 3, "detail": "key *** sent", "nested": {"Secret": "***", "n": 0}}
    assert type(scrubbed["held"]) is bool and type(scrubbed["count"]) is Count
