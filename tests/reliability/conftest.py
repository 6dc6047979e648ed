"""The reliability suite runs in two sizes: a fast variant in CI, and the full one behind a flag.

``RELIABILITY_FULL=1 python -m pytest tests/reliability`` (or ``-m full``) runs the full variants;
``python -m tests.reliability.full`` runs them outside pytest and prints (and records) the figures.
"""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("RELIABILITY_FULL") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL or "full" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="full reliability variant: set RELIABILITY_FULL=1 (or -m full)")
    for item in items:
        if item.get_closest_marker("full") is not None:
            item.add_marker(skip)


@pytest.fixture
def figures(request: pytest.FixtureRequest):
    """Print a run's figures under the test's name (shown with -s, and in the report on failure)."""

    def show(values: dict) -> None:
        print(f"\n{request.node.name}: {values}")

    return show
