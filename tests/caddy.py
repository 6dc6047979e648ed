"""Caddy, the balancing TLS proxy of deploy/, run for real on loopback (config checks, tests, reliability runs)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .tools import need_tool


def validated_caddy(caddyfile: Path, env: dict[str, str] | None = None) -> str:
    caddy = need_tool("caddy", f"it validates and runs {caddyfile.name}")
    check = subprocess.run([caddy, "validate", "--adapter", "caddyfile", "--config", str(caddyfile)],
                           capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
    assert check.returncode == 0, check.stderr[-3000:]
    return caddy


def on_loopback(text: str, site: str, port: int) -> str:
    """The same site block on plain http and a loopback port, with no admin endpoint: the routing is tested.

    The Caddyfile's global options block, if it has one, gets the two options; else one is added."""
    assert f"{site} {{" in text
    if re.search(r"^\{$", text, re.M):
        text = re.sub(r"^\{$", "{\n\tadmin off\n\tauto_https off", text, count=1, flags=re.M)
        return text.replace(f"{site} {{", f"http://127.0.0.1:{port} {{", 1)
    return text.replace(f"{site} {{", f"{{\n\tadmin off\n\tauto_https off\n}}\n\nhttp://127.0.0.1:{port} {{", 1)


@contextmanager
def running_caddy(caddy: str, text: str, tmp_path: Path, port: int, env: dict[str, str] | None = None
                  ) -> Iterator[subprocess.Popen[str]]:
    config = tmp_path / "Caddyfile"
    config.write_text(text)
    proxy = subprocess.Popen([caddy, "run", "--adapter", "caddyfile", "--config", str(config)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert proxy.poll() is None and time.monotonic() < deadline, "caddy did not start"
                time.sleep(0.05)  # polling a port that is not open yet: no event to wait on
        yield proxy
    finally:
        proxy.terminate()
        proxy.communicate(timeout=30)


REPLICAS_CADDYFILE = Path(__file__).resolve().parents[1] / "deploy" / "replicas" / "Caddyfile"
REPLICAS_SITE = "{$TEVO_BRIDGE_SITE:tickets.example.com}"


@contextmanager
def balancing(upstreams: list[str], tmp: Path, port: int) -> Iterator[str]:
    """deploy/replicas/Caddyfile, validated and run on loopback ``port`` in front of ``upstreams`` (host:port
    each); yields its base URL."""
    env = {"TEVO_BRIDGE_REPLICAS": " ".join(upstreams)}
    caddy = validated_caddy(REPLICAS_CADDYFILE, env)
    with running_caddy(caddy, on_loopback(REPLICAS_CADDYFILE.read_text(), REPLICAS_SITE, port), tmp, port, env):
        yield f"http://127.0.0.1:{port}"
