"""deploy/replicas/: two daemons on one PostgreSQL store behind one balancing proxy.

The template unit is checked by systemd-analyze like the single unit (and kept identical to it but
for the instance lines); the Caddyfile is run for real in front of two loopback upstreams, to show
that requests are spread, that a stopped replica costs no request and that a replica whose /readyz
says 503 gets no traffic. The compose file is checked for what the docs promise.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import yaml

from tevo_bridge.serve import free_port

from .caddy import balancing
from .test_deploy import DEPLOY, UNIT, verify_unit

REPLICAS = DEPLOY / "replicas"
TEMPLATE = REPLICAS / "tevo-bridge@.service"


def unit_lines(text: str) -> list[str]:
    return text[text.index("\n[Unit]\n") + 1:].splitlines()


def test_template_unit_is_the_single_unit_but_for_the_instance_lines():
    ours, single = unit_lines(TEMPLATE.read_text()), unit_lines(UNIT.read_text())
    added = [line for line in ours if line not in single]
    removed = [line for line in single if line not in ours]
    assert removed == ["Description=tevo-bridge: Ticket Evolution order processing for a seller's POS",
                       "After=network-online.target"]
    assert added == ["Description=tevo-bridge replica %i: Ticket Evolution order processing for a seller's POS",
                     "After=network-online.target postgresql.service",
                     "# This replica's listeners (TEVO_BRIDGE_SERVER__PORT, __ADMIN_PORT): one file per instance.",
                     "EnvironmentFile=/etc/tevo-bridge/replica-%i.env"]


def test_template_unit_passes_systemd_analyze_verify_and_its_exposure_stays_low(tmp_path):
    verify_unit(tmp_path, TEMPLATE)


def env_file(name: str) -> dict[str, str]:
    lines = (REPLICAS / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_each_replica_has_its_own_listeners_and_the_caddyfile_balances_over_them():
    one, two = env_file("replica-1.env"), env_file("replica-2.env")
    assert set(one) == set(two) == {"TEVO_BRIDGE_SERVER__PORT", "TEVO_BRIDGE_SERVER__ADMIN_PORT"}
    assert len({*one.values(), *two.values()}) == 4
    default = f"127.0.0.1:{one['TEVO_BRIDGE_SERVER__PORT']} 127.0.0.1:{two['TEVO_BRIDGE_SERVER__PORT']}"
    assert f"reverse_proxy {{$TEVO_BRIDGE_REPLICAS:{default}}}" in (REPLICAS / "Caddyfile").read_text()


class Replica(BaseHTTPRequestHandler):
    """A stand-in replica: records what reached it; /readyz answers as ``ready`` says."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        self._answer(200)

    def do_GET(self) -> None:
        self._answer(200 if self.path != "/readyz" or self.server.ready else 503)  # type: ignore[attr-defined]

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def replica(ready: bool = True) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Replica)
    server.seen, server.ready = [], ready  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_proxy_spreads_requests_skips_a_stopped_replica_and_one_that_is_not_ready(tmp_path):
    a, b, unready = replica(), replica(), replica(ready=False)
    upstreams = [f"127.0.0.1:{s.server_port}" for s in (a, b, unready)]
    with balancing(upstreams, tmp_path, free_port()) as base, httpx.Client(base_url=base) as http:
        # Active health checks run every 2 s: until the first one, the unready replica may still get traffic.
        deadline = time.monotonic() + 15
        while unready.seen or not (a.seen and b.seen):
            assert time.monotonic() < deadline, (len(a.seen), len(b.seen), len(unready.seen))
            unready.seen.clear()
            for _ in range(6):
                assert http.post("/webhooks/tevo/token", content=b"a=1").status_code == 200
            time.sleep(0.5)  # the next health check: no event to wait on
        assert http.post("/order-integration/holds", json={}).status_code == 200

        a.shutdown()
        a.server_close()  # connections to it are now refused: the proxy must try the other
        before = len(b.seen)
        for _ in range(10):
            assert http.post("/order-integration/invoices", json={}).status_code == 200
        assert len(b.seen) == before + 10 and not unready.seen
    b.shutdown()
    unready.shutdown()


def test_compose_runs_two_replicas_on_one_store_and_publishes_only_the_proxy():
    compose = yaml.safe_load((REPLICAS / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [services["replica-1"], services["replica-2"]]
    assert replicas[0] == replicas[1]
    assert replicas[0]["environment"]["TEVO_BRIDGE_STORE__URL"].startswith("postgresql://")
    assert replicas[0]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert [name for name, service in services.items() if "ports" in service] == ["caddy"]
    assert services["caddy"]["environment"]["TEVO_BRIDGE_REPLICAS"] == "replica-1:8080 replica-2:8080"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]
    assert (REPLICAS / replicas[0]["build"]["context"] / replicas[0]["build"]["dockerfile"]).is_file()
