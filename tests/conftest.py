"""Shared test set-up: retries without sleeping, fixture paths."""

import json
import os
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


@pytest.fixture
def two_cpus() -> list[int]:
    """The CPUs this process may use, sorted; skips (loudly) where there is only one, since keeping a thread to one
    CPU (tevo_bridge/cpus.py) is then indistinguishable from leaving it alone."""
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) < 2:
        pytest.skip(f"SKIPPED LOUDLY: this process may use only CPU {usable}: nothing to keep a thread to")
    return usable


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL server for the session (tests/pg.py); skips where no binaries are installed."""
    from tests.pg import PgServer, need_postgresql

    server = PgServer(need_postgresql())
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database of its own for this test."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request, tmp_path):
    """The test runs once per store backend, on a fresh store (a file, or a database of its own)."""
    from tests.pg import Backend

    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "state.sqlite3"))
    return Backend("postgresql", request.getfixturevalue("pg_url"))
