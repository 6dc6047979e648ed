"""``tevo-bridge sandbox inventory-from``: the configured POS's stock, written as the sandbox's ``--inventory``.

One command for every POS: it asks the configured plugin, through the plugin host as the daemon
would, for ``pos_list_stock``; the core never imports a plugin. The file it writes is checked
against the shipped schema before it is written, and written whole or not at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from tevo_bridge.cli_support import ConfigOption, fail, settings_or_exit
from tevo_bridge.config import Settings
from tevo_bridge.dashboard.figures import all_secrets, redact
from tevo_bridge.pos.errors import PluginLoadError, PosError, PosTimeout
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.types import StockListing
from tevo_bridge.sandbox.from_pos import Converted, listings_from_stock
from tevo_bridge.sandbox.inventory_file import parse_problems
from tevo_bridge.term import echo

__all__ = ["inventory_from"]


def inventory_from(
    config: ConfigOption = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the listings (JSON).")]
    = Path("inventory.json"),
) -> None:
    """Write your POS's stock as the sandbox's --inventory file, to rehearse with your own listings."""
    settings = settings_or_exit(config)
    converted = listings_from_stock(_stock_of(settings))
    for skipped in converted.skipped:
        echo(f"left out {skipped}", err=True)
    if not converted.listings:
        fail(f"error: POS plugin {settings.pos.plugin!r} has nothing on sale to list; {output} was not written")
    _write(output, converted)
    echo(f"wrote {len(converted.listings)} listing(s) of POS plugin {settings.pos.plugin!r} to {output}\n"
         f"Rehearse with them:\n  tevo-bridge sandbox serve --inventory {output} --state sandbox-state.json")


def _stock_of(settings: Settings) -> list[StockListing]:
    name = settings.pos.plugin
    try:
        host = PluginHost.load(name, settings.plugins.get(name, {}), settings.pos.budgets,
                               base_dir=settings.config_dir)
    except PluginLoadError as exc:
        fail(f"error: POS plugin {name!r} cannot be used: {redact(str(exc), all_secrets(settings))}")
    try:
        if not host.has_hook("pos_list_stock"):
            fail(f"error: POS plugin {name!r} cannot list its stock (it has no pos_list_stock hook, "
                 "docs/plugins.md); write the --inventory file by hand (`tevo-bridge sandbox inventory-schema`)")
        return host.list_stock_sync()
    except (PosError, PosTimeout) as exc:  # the POS's own words, which may quote a token it was given
        fail(f"error: POS plugin {name!r} could not list its stock: {redact(str(exc), all_secrets(settings))}")
    finally:
        host.close()


def _write(output: Path, converted: Converted) -> None:
    """Check the document against the schema, then replace ``output`` in one step."""
    document = {"listings": [spec.to_json() for spec in converted.listings]}
    problems = list(parse_problems(document))
    if problems:  # a plugin's answer the sandbox would refuse: say so now, not at `serve`
        fail("error: the POS's stock does not make a valid inventory:\n" + "\n".join(problems))
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".tmp")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, output)
