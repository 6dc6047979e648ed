"""External tools some tests need: a missing one skips the test, unless CI says it must be there.

``CI_REQUIRE_TOOLS`` (comma or space separated names, set by ``.ci/run``) turns the skip
into a failure for those tools, so a CI image that lost one cannot pass by skipping. (Not a
``TEVO_BRIDGE_*`` name: those are settings.)
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

REQUIRE_ENV = "CI_REQUIRE_TOOLS"


def required_tools() -> set[str]:
    return {name for name in re.split(r"[,\s]+", os.environ.get(REQUIRE_ENV, "")) if name}


def need_tool(name: str, why: str) -> str:
    """The tool's path; skips (or fails, when required) with ``why`` if it is not installed."""
    path = shutil.which(name)
    if path:
        return path
    unavailable(name, f"{name} is not installed: {why}")
    raise AssertionError("unreachable")


def unavailable(name: str, reason: str) -> None:
    if name in required_tools():
        pytest.fail(f"{reason} ({REQUIRE_ENV} requires {name})")
    pytest.skip(reason)
