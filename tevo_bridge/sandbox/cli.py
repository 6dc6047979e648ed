"""``tevo-bridge sandbox serve``: a local TEvo for sellers and plugin authors to point a config at.

It prints where it listens and the credentials to sign with, then serves until
Ctrl-C.  With ``--orders`` the buyer driver also places orders from the
scenario mix, announcing them to ``--webhook-url`` and/or ``--oi-url``.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tevo_bridge.cli_support import ConfigOption
from tevo_bridge.term import echo

if TYPE_CHECKING:  # the sandbox itself is imported by `serve` only: `tevo-bridge run` loads this module too
    from tevo_bridge.sandbox.scenarios import Scenario
    from tevo_bridge.sandbox.server import Sandbox

sandbox_app = typer.Typer(name="sandbox", help="A local TEvo simulator for trying tevo-bridge safely.",
                          no_args_is_help=True)


@sandbox_app.callback()
def _group() -> None:
    """Keeps ``serve`` a subcommand even while it is the only one."""


@sandbox_app.command()
def serve(
    port: Annotated[int, typer.Option(help="Loopback port to listen on (0 picks a free one).")] = 8900,
    seed: Annotated[int | None, typer.Option(help="Makes credentials, faults and orders reproducible.")] = None,
    token: Annotated[str | None, typer.Option(help="API token to accept (default: generated).")] = None,
    secret: Annotated[str | None, typer.Option(help="API secret to verify with (default: generated).")] = None,
    reviewer_id: Annotated[list[int] | None, typer.Option(help="Users of the seller's brokerage (repeatable).")]
    = None,
    faults: Annotated[str, typer.Option(help='Fault settings, e.g. "error_rate=0.1,latency=0.5,'
                                             'webhook_duplicate_rate=0.2".')] = "",
    state: Annotated[Path | None, typer.Option(help="Keep the world in this JSON file across restarts.")] = None,
    inventory: Annotated[Path | None, typer.Option(help="JSON list of ticket groups the buyers can buy.")] = None,
    inventory_csv: Annotated[Path | None, typer.Option(
        help="Write the listings here at start as a POS import CSV (ticket PDFs in tickets/ beside it), for "
             "`tevo-bridge-sqlite-pos import` or a csv_pos folder.")] = None,
    webhook_url: Annotated[str | None, typer.Option(help="Where to POST webhooks (the bridge's "
                                                         "/webhooks/tevo/<token>).")] = None,
    oi_url: Annotated[str | None, typer.Option(help="The bridge's base URL for Order Integration calls.")] = None,
    oi_api_key: Annotated[str | None, typer.Option(help="X-Api-Key sent on Order Integration calls.")] = None,
    retry_scale: Annotated[float, typer.Option(help="Multiplies TEvo's 10/120/600/3600 s retry schedule.")] = 1.0,
    fraud_delay: Annotated[float, typer.Option(help="Seconds until a pending fraud check is decided.")] = 60.0,
    fedex_transit: Annotated[float, typer.Option(help="Seconds from airbill to FedEx delivery.")] = 60.0,
    raw_airbill: Annotated[bool, typer.Option(help="Answer Get Airbill with raw PDF bytes instead of "
                                                   "TEvo's JSON (base64 PDF).")] = False,
    orders: Annotated[int, typer.Option(help="Orders the buyer driver places from the scenario mix.")] = 0,
    every: Annotated[float, typer.Option(help="Seconds between those orders.")] = 5.0,
    scenario: Annotated[list[str] | None, typer.Option(help="Limit the mix to these scenarios (repeatable).")]
    = None,
) -> None:
    """Serve the signed TEvo API on 127.0.0.1 and print how to point tevo-bridge at it."""
    from tevo_bridge.log import configure_logging
    from tevo_bridge.sandbox.driver import DriverSettings
    from tevo_bridge.sandbox.faults import FaultSettings
    from tevo_bridge.sandbox.inventory_file import InventoryFileError, load_inventory_file
    from tevo_bridge.sandbox.scenarios import Scenario
    from tevo_bridge.sandbox.server import SandboxConfig, running_sandbox

    try:
        fault_settings = FaultSettings.parse(faults)
        mix = [Scenario(s) for s in scenario] if scenario else list(Scenario)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        listings = load_inventory_file(inventory) if inventory else None
    except InventoryFileError as exc:
        # Plain lines, not a usage box: each names the file and the field, whole, ready to look up.
        echo(f"--inventory: the file has to be fixed (its format: `tevo-bridge sandbox inventory-schema`)\n{exc}",
             err=True)
        raise typer.Exit(2) from None
    config = SandboxConfig(
        port=port, seed=seed, token=token, secret=secret, faults=fault_settings, state_file=state,
        reviewer_ids=tuple(reviewer_id) if reviewer_id else SandboxConfig().reviewer_ids,
        fedex_transit_seconds=fedex_transit, inventory=listings,
        raw_airbill=raw_airbill, inventory_csv=inventory_csv,
        driver=DriverSettings(webhook_url=webhook_url, oi_base_url=oi_url, oi_api_key=oi_api_key,
                              retry_scale=retry_scale, fraud_delay=fraud_delay),
    )
    configure_logging("info", "auto")  # the daemon's format: UTC ISO timestamps, a logger on every line
    signal.signal(signal.SIGTERM, _stop)
    try:
        with running_sandbox(config) as tevo:
            echo(banner(tevo))
            _place_orders(tevo, orders, every, mix)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        echo("sandbox stopped")


@sandbox_app.command("inventory-schema")
def inventory_schema_command() -> None:
    """Print the JSON Schema of the --inventory file (for an editor, or a script that writes one)."""
    from tevo_bridge.sandbox.inventory_file import inventory_schema

    echo(json.dumps(inventory_schema(), indent=2))


@sandbox_app.command("inventory-from")
def inventory_from_command(
    config: ConfigOption = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the listings (JSON).")]
    = Path("inventory.json"),
) -> None:
    """Write your POS's stock as the sandbox's --inventory file, to rehearse with your own listings."""
    from tevo_bridge.sandbox.inventory_from import inventory_from  # the plugin host: only when asked

    inventory_from(config, output)


def _stop(signum: int, frame: object) -> None:
    """SIGTERM stops as cleanly as Ctrl-C (service managers and test harnesses send it)."""
    raise KeyboardInterrupt


def banner(tevo: Sandbox) -> str:
    """Everything a seller needs for the ``[tevo]`` section, ready to paste.

    The credentials are shown as environment exports, never inside the config block: a config file
    gets committed and shared, and pasting secrets into it is the habit the real ones must not learn.
    """
    s = tevo.bridge_settings()
    return "\n".join([
        f"TEvo sandbox listening on {s['base_url']}",
        "",
        "Point tevo-bridge at it. Credentials (in the shell that runs tevo-bridge):",
        f"  export TEVO_BRIDGE_TEVO__TOKEN={s['token']}",
        f"  export TEVO_BRIDGE_TEVO__SECRET={s['secret']}",
        "",
        "config.toml:",
        "  [tevo]",
        f'  base_url = "{s["base_url"]}"',
        f"  office_id = {s['office_id']}",
        f"  brokerage_id = {s['brokerage_id']}",
        f"  reviewer_id = {s['reviewer_id']}",
        "",
        f"Inspect: {s['base_url']}/_sandbox/orders   Create: POST {s['base_url']}/_sandbox/orders "
        '{"scenario": "office_eticket"}',
        "",
        *_stock_lines(tevo),
        *_delivery_lines(tevo),
    ])


def _stock_lines(tevo: Sandbox) -> list[str]:
    """Where the POS gets stock for these listings: without it every order is rejected as out of stock."""
    written = tevo.config.inventory_csv
    lines = ["Your POS must hold these listings (POS import CSV, as tevo-bridge-sqlite-pos import reads it):"]
    if written is not None:
        lines.append(f"  written to {written} (ticket PDFs in {written.parent / 'tickets'})")
    lines.append(f"  curl -o inventory.csv '{tevo.base_url}/_sandbox/inventory?format=csv'")
    return lines


def _delivery_lines(tevo: Sandbox) -> list[str]:
    """Say when orders will only arrive by polling, so a quiet bridge is not mistaken for a broken one."""
    d = tevo.config.driver
    if d.webhook_url or d.oi_base_url:
        return []
    return ["", "No --webhook-url or --oi-url: the sandbox announces no order, so tevo-bridge finds them only when "
                "its poller asks ([poller] interval, 5 minutes by default)."]


def _place_orders(tevo: Sandbox, count: int, every: float, mix: list[Scenario]) -> None:
    """The scenario mix, round-robin, with a catalog notification now and then (receivers must ignore it)."""
    from tevo_bridge.sandbox.scenarios import InventoryExhausted

    settings = tevo.config.driver
    for n in range(count):
        chosen = mix[n % len(mix)]
        channels = tevo.driver.configured_channels(chosen)
        if channels is None:
            continue  # an Order Integration scenario without --oi-url
        try:
            created = tevo.driver.create_sync(chosen, channels)
        except InventoryExhausted as exc:
            echo(f"buyer driver stopped: {exc}")
            return
        echo(f"order {created.order_id} ({chosen.value}, expected {chosen.expected.final_state})")
        if settings.webhook_url and n % 5 == 4:
            tevo.driver.send_catalog_event_sync()
        time.sleep(every)


if __name__ == "__main__":
    sandbox_app()
