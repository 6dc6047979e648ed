"""The end-to-end tests run once per store backend: SQLite, and PostgreSQL (a database of the test's own).

Each test that builds its system with ``stack()`` and names no store of its own runs twice; those that
test the SQLite file itself (backup and restore, the service's paths, the demo, the crash tests reading
the file) run as they are.
"""

from __future__ import annotations

import pytest

from tevo_bridge.loopback import stack as stack_module

#: Modules about the SQLite file, or that start daemon processes on a settings object of their own.
SQLITE_ONLY = {"test_backup_restore", "test_crash", "test_demo", "test_service", "test_client_against_sandbox",
               "test_replicas"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if "e2e_store" in metafunc.fixturenames and module not in SQLITE_ONLY:
        metafunc.parametrize("e2e_store", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(autouse=True)
def e2e_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    backend = getattr(request, "param", "sqlite")
    if backend == "postgresql":
        monkeypatch.setattr(stack_module, "default_store", {"url": request.getfixturevalue("pg_url")})
    return backend
