"""``tevo-bridge dashboard``: make a password hash for ``[dashboard] password_hash``; serve the dashboard over a
store without a daemon (after ``tevo-bridge demo --keep``, or to look at a backup)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tevo_bridge.term import echo

if TYPE_CHECKING:
    from tevo_bridge.config import Settings
    from tevo_bridge.store.aio import AsyncStore

dashboard_app = typer.Typer(help="The operator dashboard (docs/dashboard.md).", no_args_is_help=True)


@dashboard_app.command("hash-password")
def hash_password_command() -> None:
    """Read a password (prompted twice, or one line on standard input) and print the line for password_hash."""
    from tevo_bridge.dashboard.auth import hash_password

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        echo("error: the password must have at least 8 characters.", err=True)
        raise typer.Exit(2)
    echo(hash_password(password))


class StoreOnlyHost:
    """The dashboard's host when no daemon runs here: the store, and no plugin, worker or wake-up.

    An action still goes into the store (a retry queues the order's job): a daemon started on the
    store later runs it. Serving while a daemon runs on the same store is also safe: the store
    serialises the writes (SQLite's one writer, PostgreSQL's transactions), and the daemon's worker
    finds the queued job at its next tick.
    """

    def __init__(self, settings: Settings, store: AsyncStore) -> None:
        self.settings = settings
        self.store = store
        self.pos = None
        self.worker = None

    def wake(self) -> None:
        """No worker in this process to wake."""

    def pos_trouble(self) -> str | None:
        return None


@dashboard_app.command("serve")
def serve_command(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="The daemon's TOML config (its [store] "
                                                "and [dashboard] settings are used).", show_default=False)] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 9180,
) -> None:
    """Serve only the dashboard over the configured store (no intake, no worker): e.g. over the demo's store."""
    import asyncio

    import uvicorn
    from fastapi import FastAPI

    from tevo_bridge.admin_guard import guarded, is_loopback
    from tevo_bridge.cli_support import open_store_or_exit, settings_or_exit
    from tevo_bridge.connections import connection_budget
    from tevo_bridge.dashboard.app import mount_dashboard
    from tevo_bridge.listeners import listener_config
    from tevo_bridge.store.backends import as_async

    settings = settings_or_exit(config)
    if settings.dashboard.auth == "none" and not is_loopback(host):
        typer.echo(f"error: --host {host} with [dashboard] auth = \"none\": anyone who reaches it could read buyers' "
                   "details and retry orders. Fix: --host 127.0.0.1, or [dashboard] auth = \"password\" with the "
                   "password_hash `tevo-bridge dashboard hash-password` prints.", err=True)
        raise typer.Exit(2)
    # The same opening as every other command: the SQLite file or PostgreSQL at [store] url, errors naming the key.
    store = as_async(open_store_or_exit(settings), settings.store)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    mount_dashboard(app, StoreOnlyHost(settings, store))
    echo(f"dashboard on http://{host}:{port}/dashboard/ over {settings.store.describe()} (Ctrl-C stops it)")
    served = guarded(app, host, settings.server.admin_hosts)
    budget = connection_budget(settings.server.max_connections, 1)
    server = uvicorn.Server(listener_config(served, host, port, settings.server, budget, "dashboard"))
    try:
        asyncio.run(server.serve())
    finally:
        store.close()
