"""``tevo-bridge sandbox serve`` prints what a seller pastes into a config, then serves it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.sandbox.helpers import TevoApi
from tevo_bridge.sandbox.cli import banner, sandbox_app
from tevo_bridge.sandbox.server import running_sandbox

ROOT = Path(__file__).resolve().parents[2]


def test_the_banner_holds_the_url_and_the_credentials() -> None:
    with running_sandbox(seed=1) as tevo:
        text = banner(tevo)
    assert f'base_url = "{tevo.base_url}"' in text
    assert f"export TEVO_BRIDGE_TEVO__TOKEN={tevo.token}\n" in text
    assert f"export TEVO_BRIDGE_TEVO__SECRET={tevo.secret}\n" in text
    assert "reviewer_id = 4711" in text


def test_the_banner_keeps_the_credentials_out_of_the_config_block() -> None:
    with running_sandbox(seed=1) as tevo:
        text = banner(tevo)
    config_block = text[text.index("config.toml:"):]
    assert tevo.token not in config_block and tevo.secret not in config_block
    assert "token =" not in config_block and "secret =" not in config_block


def test_a_seed_gives_the_same_credentials_every_time() -> None:
    with running_sandbox(seed=42) as first, running_sandbox(seed=42) as second:
        assert (first.token, first.secret) == (second.token, second.secret)


def test_generated_credentials_have_tevos_shapes() -> None:
    with running_sandbox() as tevo:
        assert re.fullmatch(r"[a-zA-Z0-9]{32}", tevo.token) and re.fullmatch(r"\S{40}", tevo.secret)


def test_a_bad_fault_setting_is_a_usage_error() -> None:
    result = CliRunner().invoke(sandbox_app, ["serve", "--faults", "error_rate=2"])
    assert result.exit_code == 2


@contextmanager
def served(*options: str, until: str) -> Iterator[tuple[str, list[str]]]:
    """``sandbox serve`` in a child process, read up to the first line starting with ``until``.

    Yields the banner lines and a list that receives the rest of the output once the
    process has stopped (on SIGTERM, as a service manager stops it).
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "tevo_bridge.sandbox", "serve", "--port", "0", *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    rest: list[str] = []
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith(until):
                break
        yield "".join(lines), rest
    finally:
        process.send_signal(signal.SIGTERM)
        rest.append(process.communicate(timeout=15)[0])


def banner_value(text: str, pattern: str) -> str:
    return re.search(pattern, text).group(1)  # type: ignore[union-attr]


def test_serve_prints_its_address_and_answers_there() -> None:
    with served("--seed", "3", "--orders", "1", "--every", "0", until="order ") as (text, rest):
        summary = httpx.get(banner_value(text, r"listening on (\S+)") + "/_sandbox/orders").json()["orders"]
    assert (len(summary), "sandbox stopped" in rest[0]) == (1, True)


def test_serve_with_raw_airbill_answers_get_airbill_with_the_pdf_itself() -> None:
    with served("--seed", "4", "--raw-airbill", until="Inspect:") as (text, _):
        url = banner_value(text, r"listening on (\S+)")
        api = TevoApi(url, banner_value(text, r"TEVO__TOKEN=(\S+)"),
                     banner_value(text, r"TEVO__SECRET=(\S+)"))
        order_id = httpx.post(url + "/_sandbox/orders", json={"scenario": "fedex"}).json()["order_id"]
        shipment_id = api.get(f"/orders/{order_id}").json()["shipments"][0]["id"]
        api.post(f"/orders/{order_id}/accept", {"reviewer_id": 4711})
        api.post(f"/shipments/{shipment_id}/airbill")
        response = api.get(f"/shipments/{shipment_id}/get_airbill")
        api.close()
    assert (response.status_code, response.headers["content-type"]) == (200, "application/pdf")
    assert response.content.startswith(b"%PDF-")
