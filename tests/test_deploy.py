"""deploy/: the systemd unit, the container image and the TLS proxy, each checked by its own tool.

A tool that is missing skips its test with the reason (tests/tools.py); .ci/run installs
systemd-analyze and sets CI_REQUIRE_TOOLS so that its tests cannot skip there.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from tevo_bridge_sqlite_pos.store import init_db
from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.serve import free_port

from .caddy import on_loopback, running_caddy, validated_caddy
from .tools import need_tool, unavailable

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "tevo-bridge.service"
STATE = "/var/lib/tevo-bridge"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def unit_for_this_machine(tmp_path: Path, unit: Path = UNIT) -> Path:
    """The unit with ExecStart pointed at this venv's tevo-bridge (verify checks that it exists)."""
    script = Path(sys.executable).with_name("tevo-bridge")
    text = unit.read_text()
    text, count = re.subn(r"^ExecStart=/opt/tevo-bridge/bin/tevo-bridge ", f"ExecStart={script} ", text, flags=re.M)
    assert count == 1 and script.exists()
    copy = tmp_path / unit.name
    copy.write_text(text)
    return copy


def verify_unit(tmp_path: Path, unit: Path = UNIT) -> None:
    """systemd-analyze verify passes without a warning, and the exposure score stays low (≤ 2.0 of 10)."""
    analyze = need_tool("systemd-analyze", f"it verifies deploy/{unit.relative_to(DEPLOY)}")
    copy = unit_for_this_machine(tmp_path, unit)
    verify = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr  # unknown keys only warn
    security = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", str(copy)],
                              capture_output=True, text=True, timeout=60)
    assert security.returncode == 0, security.stdout[-2000:] + security.stderr


def test_unit_runs_the_daemon_as_documented():
    unit = unit_settings()
    assert unit["ExecStart"] == ["/opt/tevo-bridge/bin/tevo-bridge run --config /etc/tevo-bridge/config.toml"]
    expected = {"Type": "notify", "User": "tevo-bridge", "StateDirectory": "tevo-bridge", "WorkingDirectory": "/",
                "EnvironmentFile": "/etc/tevo-bridge/env", "Restart": "on-failure", "RestartPreventExitStatus": "2",
                "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                "PrivateDevices": "yes", "CapabilityBoundingSet": "",
                "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX"}
    assert {key: unit.get(key, [None])[0] for key in expected} == expected
    assert "@system-service" in unit["SystemCallFilter"]
    assert "tevo-bridge" in (DEPLOY / "tevo-bridge.sysusers").read_text().split()


def test_unit_passes_systemd_analyze_verify_and_its_exposure_stays_low(tmp_path):
    verify_unit(tmp_path)


def test_sysusers_file_creates_the_service_user():
    sysusers = need_tool("systemd-sysusers", "it reads deploy/tevo-bridge.sysusers")
    dry = subprocess.run([sysusers, "--dry-run", str(DEPLOY / "tevo-bridge.sysusers")], capture_output=True,
                         text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "tevo-bridge" in dry.stdout + dry.stderr or "already exists" in dry.stderr


def test_service_config_is_valid_and_keeps_every_path_in_the_state_folder(tmp_path, monkeypatch):
    # What the seller fills in (secrets in /etc/tevo-bridge/env, their reviewer, their POS), nothing else.
    database = tmp_path / "pos.sqlite3"
    init_db(database)
    for name, value in {"TEVO_BRIDGE_TEVO__TOKEN": "deploy-test-token", "TEVO_BRIDGE_TEVO__SECRET": "deploy-test-secret",
                        "TEVO_BRIDGE_TEVO__REVIEWER_ID": "4711",
                        "TEVO_BRIDGE_PLUGINS__SQLITE_POS__DATABASE": str(database)}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["check", "--config", str(DEPLOY / "config.toml")])
    assert result.exit_code == 0, result.output
    assert "POST https://tickets.example.com/order-integration/invoices" in result.output
    config = tomllib.loads((DEPLOY / "config.toml").read_text())
    paths = [config["store"]["path"], config["fulfillment"]["airbill_dir"], config["plugins"]["sqlite_pos"]["database"]]
    assert all(path.startswith(STATE + "/") for path in paths), paths
    env = (DEPLOY / "env.example").read_text()
    assert all(f"{name}=" in env for name in ("TEVO_BRIDGE_TEVO__TOKEN", "TEVO_BRIDGE_TEVO__SECRET",
                                               "TEVO_BRIDGE_SERVER__WEBHOOK_TOKEN"))


def containerfile() -> str:
    return (DEPLOY / "Containerfile").read_text()


def test_containerfile_runs_unprivileged_with_state_on_a_volume_and_a_readiness_healthcheck():
    text = containerfile()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages and all(image == "python:3.11-slim" for image in stages)
    final = text.split("\nFROM ")[-1]
    assert re.search(r"^USER tevo-bridge", final, re.M)
    assert re.search(r'^VOLUME \["/var/lib/tevo-bridge"\]', final, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*/readyz", final, re.M)
    assert "TEVO_BRIDGE_CONFIG=/etc/tevo-bridge/config.toml" in final
    assert "COPY" not in final.split("COPY --from=build", 1)[1]  # no config or secret baked in


def container_tool() -> str | None:
    for tool in ("podman", "docker", "buildah"):
        path = shutil.which(tool)
        probe = [path, "info"] if path else None
        if probe and subprocess.run(probe, capture_output=True, timeout=60).returncode == 0:
            return path
    return None


def test_containerfile_builds(tmp_path):
    tool = container_tool()
    if tool is None:
        unavailable("container", "no working podman, docker or buildah here (the docker CLI alone, without a "
                                 "daemon, cannot build): the Containerfile is only checked statically")
    verb = ["bud"] if tool.endswith("buildah") else ["build"]
    build = subprocess.run([tool, *verb, "-f", str(DEPLOY / "Containerfile"), "-t", "tevo-bridge-test", str(ROOT)],
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str | None]] = []

    def do_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        Recorder.seen.append((self.command, self.path, self.headers.get("X-Forwarded-For")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_any

    def log_message(self, *args: object) -> None:
        pass


def test_caddyfile_is_valid_and_forwards_only_the_intake_paths(tmp_path):
    caddy = validated_caddy(DEPLOY / "Caddyfile")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    text = on_loopback((DEPLOY / "Caddyfile").read_text(), "tickets.example.com", port)
    text = text.replace("reverse_proxy 127.0.0.1:8080", f"reverse_proxy 127.0.0.1:{upstream.server_port}")
    with running_caddy(caddy, text, tmp_path, port):
        base = f"http://127.0.0.1:{port}"
        forwarded = ["/order-integration/holds", "/order-integration/holds/G-1/release",
                     "/order-integration/invoices", "/webhooks/tevo/some-token"]
        for path in forwarded:
            assert httpx.post(base + path, content=b"{}").status_code == 200, path
        assert [(m, p) for m, p, _ in Recorder.seen] == [("POST", p) for p in forwarded]
        assert all(xff == "127.0.0.1" for _, _, xff in Recorder.seen)
        for method, path in [("GET", "/metrics"), ("GET", "/readyz"), ("GET", "/livez"), ("GET", "/openapi.json"),
                             ("GET", "/docs"), ("POST", "/metrics"), ("GET", "/webhooks/tevo/some-token"),
                             ("POST", "/order-integration/holds/x/y/release")]:
            assert httpx.request(method, base + path).status_code == 404, (method, path)
        assert len(Recorder.seen) == len(forwarded)
    upstream.shutdown()


def test_a_required_tool_that_is_missing_fails_instead_of_skipping(monkeypatch):
    monkeypatch.setenv("CI_REQUIRE_TOOLS", "systemd-analyze, no-such-tool-here")
    with pytest.raises(pytest.fail.Exception, match="requires no-such-tool-here"):
        need_tool("no-such-tool-here", "a test")
    monkeypatch.setenv("CI_REQUIRE_TOOLS", "")
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-here is not installed"):
        need_tool("no-such-tool-here", "a test")


def test_behind_the_shipped_caddy_allowed_ips_see_the_real_client_and_nobody_else(tmp_path):
    """deploy/config.toml's trusted_proxies with deploy/Caddyfile in front of the real daemon: the client's own
    address (here 127.0.0.7) reaches [server] allowed_ips through Caddy; a direct caller cannot claim it."""
    from tests.integration.conftest import WEBHOOK_TOKEN, make_settings
    from tevo_bridge.serve import running_daemon

    trusted = tomllib.loads((DEPLOY / "config.toml").read_text())["server"]["trusted_proxies"]
    assert trusted == ["127.0.0.1", "::1"]
    init_db(tmp_path / "pos.sqlite3")
    settings = make_settings(tmp_path, tmp_path / "pos.sqlite3",
                             server={"trusted_proxies": trusted, "allowed_ips": ["127.0.0.7"]})
    caddy = validated_caddy(DEPLOY / "Caddyfile")
    port = free_port()
    with running_daemon(settings) as daemon:
        text = on_loopback((DEPLOY / "Caddyfile").read_text(), "tickets.example.com", port)
        text = text.replace("reverse_proxy 127.0.0.1:8080", f"reverse_proxy {daemon.base_url.removeprefix('http://')}")
        hook = f"/webhooks/tevo/{WEBHOOK_TOKEN}"
        with running_caddy(caddy, text, tmp_path, port):
            via = httpx.HTTPTransport(local_address="127.0.0.7")
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", transport=via, timeout=10) as allowed:
                assert allowed.post(hook).status_code == 400  # let through; the empty body is what is wrong
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as other:
                assert other.post(hook, headers={"X-Forwarded-For": "127.0.0.7"}).status_code == 404
        spoofer = httpx.HTTPTransport(local_address="127.0.0.9")  # not a trusted proxy, claiming the address
        with httpx.Client(base_url=daemon.base_url, transport=spoofer, timeout=10) as direct:
            assert direct.post(hook, headers={"X-Forwarded-For": "127.0.0.7"}).status_code == 404


def test_unit_leaves_room_for_both_listeners_at_their_cap():
    from tevo_bridge.config import ServerSettings
    from tevo_bridge.connections import connection_budget

    (limit,) = unit_settings()["LimitNOFILE"]
    wanted = ServerSettings().max_connections
    assert connection_budget(wanted, 2, soft_limit=int(limit)).max_connections == wanted  # not lowered at start-up


def test_caddyfile_cuts_slow_headers_and_refuses_large_bodies_itself(tmp_path):
    """The read timeouts and the body limit are in force, not just accepted by `caddy validate`."""
    text = (DEPLOY / "Caddyfile").read_text()
    for setting in ("read_header 5s", "read_body 15s", "idle 2m", "max_size 1MiB"):
        assert setting in text, setting
    caddy = validated_caddy(DEPLOY / "Caddyfile")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    text = on_loopback(text, "tickets.example.com", port).replace("reverse_proxy 127.0.0.1:8080",
                                                                  f"reverse_proxy 127.0.0.1:{upstream.server_port}")
    Recorder.seen.clear()
    with running_caddy(caddy, text, tmp_path, port):
        base = f"http://127.0.0.1:{port}"
        too_big = httpx.post(base + "/webhooks/tevo/some-token", content=b"x" * (1024 * 1024 + 1), timeout=30)
        # Caddy cuts the body at 1 MiB: 413 from Caddy 2.7 on; 2.6 reports the cut as an upstream failure (502).
        assert too_big.status_code in (413, 502), too_big.status_code
        assert httpx.post(base + "/webhooks/tevo/some-token", content=b"x" * 1024, timeout=30).status_code == 200
        with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
            slow.sendall(b"POST /order-integration/holds HTTP/1.1\r\nHost: x\r\n")  # and no more
            began = time.monotonic()
            while slow.recv(65536):
                pass
            assert time.monotonic() - began < 20  # cut by read_header (5 s), well before the socket's 30 s
    upstream.shutdown()
