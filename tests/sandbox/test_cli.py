"""``tevo-bridge sandbox serve`` prints what a seller pastes into a config, then serves it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tevo_bridge.sandbox.cli import banner, sandbox_app
from tevo_bridge.sandbox.server import running_sandbox

ROOT = Path(__file__).resolve().parents[2]


def test_the_banner_holds_the_url_and_the_credentials() -> None:
    with running_sandbox(seed=1) as tevo:
        text = banner(tevo)
    assert f'base_url = "{tevo.base_url}"' in text
    assert f'token = "{tevo.token}"' in text and f'secret = "{tevo.secret}"' in text
    assert "reviewer_id = 4711" in text


def test_a_seed_gives_the_same_credentials_every_time() -> None:
    with running_sandbox(seed=42) as first, running_sandbox(seed=42) as second:
        assert (first.token, first.secret) == (second.token, second.secret)


def test_generated_credentials_have_tevos_shapes() -> None:
    with running_sandbox() as tevo:
        assert re.fullmatch(r"[a-zA-Z0-9]{32}", tevo.token) and re.fullmatch(r"\S{40}", tevo.secret)


def test_a_bad_fault_setting_is_a_usage_error() -> None:
    result = CliRunner().invoke(sandbox_app, ["serve", "--faults", "error_rate=2"])
    assert result.exit_code == 2


def test_serve_prints_its_address_and_answers_there() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tevo_bridge.sandbox", "serve", "--port", "0", "--seed", "3", "--orders", "1",
         "--every", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("order "):
                break
        url = re.search(r"listening on (\S+)", "".join(lines)).group(1)  # type: ignore[union-attr]
        summary = httpx.get(url + "/_sandbox/orders").json()["orders"]
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=15)[0]
    assert (len(summary), "sandbox stopped" in output) == (1, True)
