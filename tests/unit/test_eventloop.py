"""The daemon's event loop: uvloop where installed, the standard loop when the config says so."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from tevo_bridge import eventloop
from tevo_bridge.config import ServerSettings


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_auto_runs_on_uvloop_where_it_is_installed() -> None:
    assert eventloop.chosen("auto") == "uvloop"
    assert eventloop.run(_loop_type()) is uvloop.Loop


def test_asyncio_runs_on_the_standard_loop() -> None:
    assert not issubclass(eventloop.run(_loop_type(), "asyncio"), uvloop.Loop)


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventloop, "uvloop_available", lambda: False)
    assert eventloop.chosen("auto") == "asyncio"
    assert not issubclass(eventloop.run(_loop_type()), uvloop.Loop)


def test_insisting_on_uvloop_where_it_is_missing_is_a_config_error_naming_the_fix(monkeypatch: pytest.MonkeyPatch
                                                                                  ) -> None:
    monkeypatch.setattr(eventloop, "uvloop_available", lambda: False)
    with pytest.raises(ValueError, match="pip install uvloop"):
        ServerSettings(event_loop="uvloop")
