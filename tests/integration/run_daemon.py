"""`tevo-bridge run` as a seller starts it: its own process, a real config, store and SQLite POS, up until /livez.

``running(folder)`` yields the process once it answers and stops it with SIGTERM after (asserting a clean exit);
the launcher writes the modules it loaded to ``modules.json`` as it exits (tests/integration/test_run_imports.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def _config(folder: Path, port: int, admin_port: int | None, server: str = "") -> Path:
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
{admin}{server}

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


@contextmanager
def running(folder: Path, admin_port: int | None = None, server: str = "") -> Iterator[subprocess.Popen[bytes]]:
    """`run` in its own process, up (it answers /livez) while the block runs; stopped by SIGTERM after it.
    ``server`` adds lines to the config's ``[server]`` table."""
    port = free_port()
    config, dump = _config(folder, port, admin_port, server), folder / "modules.json"
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
        yield process
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STARTUP) == 0, (folder / "daemon.log").read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
