"""``tevo-bridge plugins``: what POS plugins are installed, and whether each can be used.

The core's CLI wires ``plugins_command`` with the active plugin name from the config; it is kept
free of config loading so it works even when the config itself is what is broken.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from tevo_bridge.cli_views import table_console
from tevo_bridge.pos.discovery import PluginInfo, discover_plugins
from tevo_bridge.pos.hookspecs import OPTIONAL_HOOKS
from tevo_bridge.term import cell, markup

__all__ = ["plugins_command"]


def _hooks_cell(info: PluginInfo) -> str:
    optional = [h for h in info.hooks if h in OPTIONAL_HOOKS]
    required = len(info.hooks) - len(optional)
    return f"{required} required" + (f" + {', '.join(optional)}" if optional else "")


def plugins_command(plugin_name: str | None, as_json: bool, console: Console | None = None) -> int:
    """Print the installed plugins (a table, or JSON with ``as_json``); return the exit status.

    ``plugin_name`` is the configured ``pos.plugin``, marked as active. The status is 1 only when
    that plugin is missing or broken: a broken plugin nobody uses is shown, not fatal.
    """
    console = console or table_console()  # off a terminal, errors whole rather than cut at 80 columns
    infos = discover_plugins()
    if as_json:
        rows = [{**asdict(info), "active": info.name == plugin_name} for info in infos]
        console.print_json(json.dumps(rows), ensure_ascii=True)  # rich would write C1 controls raw
    else:
        table = Table(title="POS plugins")
        for column in ("", "name", "distribution", "version", "status", "hooks", "error"):
            table.add_column(column)
        for info in infos:
            status = "[green]ok[/]" if info.status == "ok" else "[red]broken[/]"
            # Text cells: names and errors come from installed packages, not from us.
            table.add_row(
                "*" if info.name == plugin_name else "",
                cell(info.name),
                cell(info.distribution or ""),
                cell(info.version or ""),
                status,
                cell(_hooks_cell(info)),
                cell(info.error or ""),
            )
        console.print(table)
    if plugin_name is None:
        return 0
    active = next((info for info in infos if info.name == plugin_name), None)
    if active is None:
        if not as_json:
            console.print(f"[red]pos.plugin = {markup(repr(plugin_name))} is not installed[/]")
        return 1
    return 0 if active.status == "ok" else 1
