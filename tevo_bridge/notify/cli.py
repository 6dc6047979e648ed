"""``tevo-bridge notify``: send a test message to every ``[notify] urls`` destination; list what was told."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Annotated

import typer

from tevo_bridge.term import echo, visible

notify_app = typer.Typer(help="Notifications ([notify] urls; docs/operations.md).", no_args_is_help=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="The daemon's TOML config.",
                                                   show_default=False)]


@notify_app.command("test")
def test_command(config: ConfigOption = None) -> None:
    """Send a test message to every configured destination and say, per destination, whether it took it.

    Exit 0 when all did, 1 when any failed, 2 when none is configured. Nothing is recorded in the store.
    """
    from tevo_bridge.cli_support import fail, settings_or_exit
    from tevo_bridge.notify.notifier import destinations
    from tevo_bridge.notify.send import send
    from tevo_bridge.notify_urls import problem

    settings = settings_or_exit(config)
    targets = destinations(settings)
    if not targets:
        fail("error: [notify] urls is empty: nothing to test. Fix: e.g. urls = [\"mailtos://user:PASSWORD@"
             "smtp.example.com?to=you@example.com\"] (or TEVO_BRIDGE_NOTIFY__URLS as a JSON list).")
    title = "tevo-bridge: test message"
    body = (f"A test from tevo-bridge on {socket.gethostname()}: this destination will be told when an order needs "
            "review, an invoiced order is canceled, TEvo, the POS or the worker is failing, and (if set) daily.")

    async def send_all() -> list[str | None]:
        return await asyncio.gather(*(
            send(dest.url, title, body, settings.notify.timeout) if problem(dest.url) is None
            else _refused(problem(dest.url)) for dest in targets))

    failed = 0
    for index, (dest, error) in enumerate(zip(targets, asyncio.run(send_all()), strict=True)):
        if error is None:
            echo(f"ok      urls[{index}] {dest.shown}")
        else:
            failed += 1
            echo(f"FAILED  urls[{index}] {dest.shown}: {visible(error)}")
    if failed:
        raise typer.Exit(1)


async def _refused(reason: str | None) -> str | None:
    return reason


@notify_app.command("list")
def list_command(config: ConfigOption = None,
                 limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 20) -> None:
    """The latest notifications in the store: what each told, its state, tries and last error (secrets masked)."""
    from tevo_bridge.cli_support import open_store_or_exit, settings_or_exit

    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    try:
        rows = store.list_notifications(limit)
    finally:
        store.close()
    if not rows:
        echo("no notifications recorded")
    for row in rows:
        line = f"{row.created_at}  {row.state:<8} tries {row.attempts:<2} {row.key}"
        echo(line + (f"\n    last error: {visible(row.last_error)}" if row.last_error else ""))
