"""The HTTP parser ``[server] http_parser`` chooses is the one each listener serves with, under the guard."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tests.integration.conftest import make_settings
from tevo_bridge.connections import ConnectionGuard
from tevo_bridge.listeners import parser_of
from tevo_bridge.log import configure_logging
from tevo_bridge.serve import running_daemon


def protocols_serving(server: object, base_url: str) -> list[type]:
    """The protocol classes of a listener's open connections, taken while a connection of ours is open on it."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10):
        deadline = time.monotonic() + 10
        while not (found := list(server.server_state.connections)):  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "the listener never saw the connection"
            time.sleep(0.01)
        return [type(protocol) for protocol in found]


@pytest.mark.parametrize(("setting", "speaks", "not_"), [("auto", HttpToolsProtocol, H11Protocol),
                                                         ("httptools", HttpToolsProtocol, H11Protocol),
                                                         ("h11", H11Protocol, HttpToolsProtocol)])
def test_the_configured_parser_is_the_one_that_serves_and_the_start_line_names_it(
        setting: str, speaks: type, not_: type, tmp_path: Path, pos_db: Path) -> None:
    settings = make_settings(tmp_path, pos_db, server={"http_parser": setting})
    log_file = (tmp_path / "daemon.log").open("w")
    configure_logging("info", "json", settings.secrets(), stream=log_file)
    try:
        with running_daemon(settings) as daemon:
            assert httpx.get(daemon.base_url + "/livez", timeout=5).status_code == 200
            serving = protocols_serving(daemon.server, daemon.base_url)
            deadline = time.monotonic() + 10
            while "daemon.listening" not in (tmp_path / "daemon.log").read_text():
                assert time.monotonic() < deadline, "no start line"
                time.sleep(0.05)
    finally:
        configure_logging("warning", "json")
        log_file.close()
    assert serving and all(issubclass(cls, speaks) and issubclass(cls, ConnectionGuard) for cls in serving)
    assert not any(issubclass(cls, not_) for cls in serving)
    name = "httptools" if speaks is HttpToolsProtocol else "h11"
    assert parser_of(daemon.server) == name
    lines = [json.loads(line) for line in (tmp_path / "daemon.log").read_text().splitlines()]
    assert [line["http_parser"] for line in lines if line["event"] == "daemon.listening"] == [name]
