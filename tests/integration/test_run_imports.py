"""What `tevo-bridge run` loads: only what the daemon uses (issue 24, "Memory").

The daemon is started the way the console script starts it (``tevo_bridge.cli.main`` with ``run``),
in its own process, with a real config, store and POS plugin; once it answers /livez it is stopped
with SIGTERM and the modules it had loaded are read from the file an ``atexit`` hook wrote. The
assertions name modules, never MiB: the sandbox, the other commands' internals, the benchmarks,
rich and pypdf stay out, and the dashboard stays out unless ``[server] admin_port`` is set. The
admin-port run is the proof that the probe sees what ``run`` loads: there, the dashboard is in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tevo_bridge.serve import free_port

STARTUP = 30.0

LAUNCHER = """
import atexit, json, sys
dump, config = sys.argv[1:3]
atexit.register(lambda: open(dump, "w").write(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None))))
sys.argv = ["tevo-bridge", "run", "--config", config]
from tevo_bridge.cli import main
main()
"""

#: Loaded by `run` only if used; none of it is used by an idle daemon without an admin port.
NEVER_LOADED = ("pypdf", "rich", "pygments", "cryptography", "PIL", "benchmarks", "jinja2", "httpx._main",
                "tevo_bridge.demo", "tevo_bridge.loopback", "tevo_bridge.testing", "tevo_bridge.cli_views",
                "tevo_bridge.pos.cli", "tevo_bridge.store.transfer",
                # FastAPI's v1 checks, structlog's greenlet support, the dashboard's cookie signer: unused by `run`
                "pydantic.v1", "greenlet", "itsdangerous",
                # httpx's default transport: TEvo calls go through tevo/transport.py ([tevo] http_transport)
                "httpcore")
#: The typer sub-apps stay registered, so their modules load; what they run must not.
SUB_APP_MODULES = ("tevo_bridge.sandbox", "tevo_bridge.sandbox.cli", "tevo_bridge.dashboard",
                   "tevo_bridge.dashboard.cli", "tevo_bridge.dashboard.auth")
DASHBOARD = ("jinja2", "tevo_bridge.dashboard.app", "tevo_bridge.dashboard.pages", "tevo_bridge.dashboard.base")


def _config(folder: Path, port: int, admin_port: int | None) -> Path:
    from tevo_bridge_sqlite_pos import store as pos_store

    pos_db = folder / "pos.sqlite3"
    pos_store.init_db(pos_db)
    admin = f"admin_port = {admin_port}\nadmin_host = \"127.0.0.1\"\n" if admin_port else ""
    config = folder / "config.toml"
    config.write_text(f"""
[tevo]
base_url = "http://127.0.0.1:9"
reviewer_id = 4711

[server]
host = "127.0.0.1"
port = {port}
{admin}
[store]
path = "{folder / 'tevo-bridge.sqlite3'}"

[poller]
enabled = false

[fulfillment]
airbill_dir = "{folder / 'airbills'}"

[pos]
plugin = "sqlite_pos"

[plugins.sqlite_pos]
database = "{pos_db}"

[dashboard]
auth = "none"

[log]
format = "json"
""")
    return config


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_") and k != "NOTIFY_SOCKET"}
    env.update({"TEVO_BRIDGE_TEVO__TOKEN": "a1b2c3d4" * 4, "TEVO_BRIDGE_TEVO__SECRET": "S" * 40,
                "TEVO_BRIDGE_SERVER__WEBHOOK_TOKEN": "wxyzSECRETwebhookTOKENthatIsLong1234567890",
                "TEVO_BRIDGE_SERVER__ORDER_INTEGRATION__API_KEYS": '["an-order-integration-key-0123456789abcdef"]'})
    return env


def _modules_of_run(folder: Path, admin_port: int | None = None) -> set[str]:
    """Start `run`, wait for /livez, stop it; the modules it had loaded (not those marked absent: None)."""
    port = free_port()
    config, dump = _config(folder, port, admin_port), folder / "modules.json"
    log = (folder / "daemon.log").open("wb")
    process = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(dump), str(config)], cwd=folder, env=_env(),
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the daemon did not come up:\n{(folder / 'daemon.log').read_text()[-3000:]}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STARTUP) == 0, (folder / "daemon.log").read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    return set(json.loads(dump.read_text()))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_run_without_admin_port_loads_no_sandbox_dashboard_pdf_or_rich(tmp_path: Path) -> None:
    modules = _modules_of_run(tmp_path)

    assert "tevo_bridge.daemon" in modules and "tevo_bridge_sqlite_pos.plugin" in modules  # it did run
    assert _loaded(modules, NEVER_LOADED) == []
    assert _loaded(modules, DASHBOARD) == []
    assert _loaded(modules, ("tevo_bridge.sandbox", "tevo_bridge.dashboard")) == sorted(
        m for m in SUB_APP_MODULES if m in modules)
    assert "typer.rich_utils" not in modules
    # It speaks HTTP through httptools ([server] http_parser = "auto"), so uvicorn's h11 protocol stays out. h11
    # itself is loaded anyway: httpcore imports it with the TEvo client's httpx (its HTTP/1.1 client).
    assert "uvicorn.protocols.http.httptools_impl" in modules
    assert "uvicorn.protocols.http.h11_impl" not in modules


def test_run_with_admin_port_loads_the_dashboard(tmp_path: Path) -> None:
    modules = _modules_of_run(tmp_path, admin_port=free_port())

    assert [name for name in DASHBOARD if name in modules] == list(DASHBOARD)
    assert _loaded(modules, ("pypdf", "rich", "tevo_bridge.sandbox.server")) == []
