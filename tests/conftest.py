"""Shared test set-up: retries without sleeping, fixture paths."""

import json
from pathlib import Path

import pytest
import stamina

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs():
    """Warnings and errors only, as JSON on stderr: tests that need the log configure their own."""

    from tevo_bridge.log import configure_logging

    configure_logging("warning", "json")


@pytest.fixture(autouse=True)
def _fast_retries():
    """Retries keep their attempt counts but skip the backoff sleeps."""
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


def load_fixture(relative: str):
    return json.loads((FIXTURES / relative).read_text())
