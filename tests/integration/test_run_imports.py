"""What `tevo-bridge run` loads: only what the daemon uses (issue 24, "Memory").

The daemon is started the way the console script starts it (``tevo_bridge.cli.main`` with ``run``,
tests/integration/run_daemon.py), in its own process, with a real config, store and POS plugin; once it
answers /livez it is stopped with SIGTERM and the modules it had loaded are read from the file an ``atexit``
hook wrote. The assertions name modules, never MiB: the sandbox, the other commands' internals, the
benchmarks, rich and pypdf stay out, and the dashboard stays out unless ``[server] admin_port`` is set. The
admin-port run is the proof that the probe sees what ``run`` loads: there, the dashboard is in.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.run_daemon import running
from tevo_bridge.serve import free_port

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


def _modules_of_run(folder: Path, admin_port: int | None = None) -> set[str]:
    """Start `run`, wait for /livez, stop it; the modules it had loaded (not those marked absent: None)."""
    with running(folder, admin_port):
        pass
    return set(json.loads((folder / "modules.json").read_text()))


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
