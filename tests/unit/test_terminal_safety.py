"""Issue 20 item 9: text from TEvo or the POS reaches the operator's terminal escaped, never as markup or
terminal control: ``orders list``, ``orders show``, the console log; while ``--json`` and JSON logs keep the
exact data (and stay ASCII, so a ``cat`` of them is harmless too)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tevo_bridge.log import configure_logging, get_logger
from tevo_bridge.store import Event, SqliteStore
from tevo_bridge.term import cell, markup, visible

OSC8 = "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\"
HOSTILE = ["[/x]", OSC8, "\x1b[2J", "\x9b31m", "a\rb", "x\ny", "\u202eevil", "\x07\x00\x7f"]
#: What must never reach a terminal raw: C0 but newline and tab, DEL, C1, bidi overrides, line separators.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
# The visible forms the operator sees instead.
SHOWN = ["[/x]", "\\x1b]8;;http://evil\\x1b\\link\\x1b]8;;\\x1b\\", "\\x1b[2J", "\\x9b31m", "a\\x0db", "x\\x0ay",
         "\\u202eevil", "\\x07\\x00\\x7f"]
ORDER = 7001


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "state.sqlite3"\n')
    store = SqliteStore(tmp_path / "state.sqlite3")
    items = [{"quantity": 1, "price": "10.00", "ticket_group": {"id": 55, "remote_id": text}} for text in HOSTILE]
    store.record_event(Event("webhook", "order_created", "k1", "{}", order_id=ORDER))
    store.update_order(ORDER, state="needs_review", reason=" | ".join(HOSTILE), buyer_type="Office", buyer_id=1,
                       snapshot=json.dumps({"id": ORDER, "items": items}), last_error=" | ".join(HOSTILE),
                       invoice_id=OSC8)
    store.close()
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, as an operator runs it (a real process, its output a pipe)."""
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "tevo_bridge.cli", *args], capture_output=True, env=env,
                          timeout=60, text=True, encoding="utf-8", errors="surrogateescape")


def assert_terminal_safe(output: str) -> None:
    raw = sorted({hex(ord(c)) for c in RAW_CONTROL.findall(output)})
    assert raw == [], f"raw control characters reached the terminal: {raw}"


def test_orders_list_shows_markup_and_escapes_as_text(config):
    result = cli("orders", "list", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert_terminal_safe(result.stdout)
    flat = result.stdout.replace("\n", "")
    for shown in SHOWN:
        assert shown in flat or shown.replace(" ", "") in flat.replace(" ", ""), shown


def test_orders_show_shows_markup_and_escapes_as_text_one_line_per_field(config):
    result = cli("orders", "show", str(ORDER), "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert_terminal_safe(result.stdout)
    for shown in SHOWN:
        assert shown in result.stdout, shown
    assert not any(line.startswith("y") for line in result.stdout.splitlines())  # "x\ny" forged no line


@pytest.mark.parametrize("command", [["orders", "list", "--json"], ["orders", "show", str(ORDER), "--json"]])
def test_json_output_keeps_the_exact_data_in_ascii(config, command):
    result = cli(*command, "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii()
    document = json.loads(result.stdout)
    order = document[0] if isinstance(document, list) else document
    assert order["last_error"] == " | ".join(HOSTILE)
    assert order["invoice_id"] == OSC8
    assert [item["remote_id"] for item in order["items"]] == HOSTILE


def test_console_log_lines_show_escapes_and_cannot_forge_lines():
    stream = io.StringIO()
    configure_logging("info", "console", stream=stream)
    try:
        get_logger("test").info("oi.hold " + OSC8, remote_id=" | ".join(HOSTILE), nested={"r": "\x9b31m"},
                                **{"key\x1b[2J": 1})
        logging.getLogger("uvicorn.error").warning("peer sent %s", "\x1b[2J\x9b31m[/x]\nforged line")
    finally:
        configure_logging("warning", "json")
    output = stream.getvalue()
    assert_terminal_safe(output)
    assert len(output.strip().splitlines()) == 2, output  # one line per event, whatever newline the data held
    unquoted = output.replace("\\\\", "\\")  # the renderer repr()s values with spaces: backslashes doubled
    for shown in SHOWN:
        assert shown in unquoted, shown


def test_json_log_lines_keep_the_exact_data_in_ascii():
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    try:
        get_logger("test").info("oi.hold", remote_id=" | ".join(HOSTILE))
    finally:
        configure_logging("warning", "json")
    line = stream.getvalue().strip()
    assert line.isascii() and "\n" not in line
    assert json.loads(line)["remote_id"] == " | ".join(HOSTILE)


def test_the_helpers_show_every_control_and_keep_plain_text():
    # A tab moves no cursor anywhere harmful: kept.
    assert visible("plain text, ünïcödé, €, tab\there") == "plain text, ünïcödé, €, tab\there"
    assert visible("two\nlines\tok", lines=True) == "two\nlines\tok"
    assert visible("\x1b\x9b\x00\x7f\u202e") == "\\x1b\\x9b\\x00\\x7f\\u202e"
    assert markup("[/x] [bold]") == "\\[/x] \\[bold]"
    assert cell("[/x]").plain == "[/x]" and cell(None).plain == ""
