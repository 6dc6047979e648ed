"""The runtime's users type it through tevo_bridge/seams.py and never import the daemon that builds it."""

from __future__ import annotations

import subprocess
import sys

import pytest

USERS = ["tevo_bridge.seams", "tevo_bridge.intake.app", "tevo_bridge.intake.webhooks",
         "tevo_bridge.intake.order_integration", "tevo_bridge.intake.poller", "tevo_bridge.pipeline.worker",
         "tevo_bridge.metrics"]


@pytest.mark.parametrize("module", USERS)
def test_a_user_of_the_runtime_imports_without_the_daemon(module: str) -> None:
    # A fresh interpreter: in this one the daemon may already be imported by another test.
    code = f"import sys, {module}; print('tevo_bridge.daemon' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
