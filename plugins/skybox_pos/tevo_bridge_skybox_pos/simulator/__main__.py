"""``python -m tevo_bridge_skybox_pos.simulator [--port N] [--groups N | --listings CSV] [--setting key=value ...]``.

Serves the simulator seeded with generated inventory (or a seller's own listings, ``--listings``: an
inventory CSV in the sample POS plugins' import format) and prints the plugin settings to point a
config at (the tokens as environment variables, never in the config block).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from tevo_bridge.pos.inventory import InventoryFileError, InventoryRow, read_inventory_csv
from tevo_bridge.term import visible
from tevo_bridge.testing.inventory import generate_inventory
from tevo_bridge_skybox_pos.simulator import Faults, SimSettings, running


def _parse(pairs: list[str]) -> SimSettings:
    settings, faults = SimSettings(), Faults()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        target = settings if key in {f.name for f in dataclasses.fields(SimSettings)} else faults
        known = {f.name: f for f in dataclasses.fields(target)}
        if not sep or key not in known or key == "faults":
            raise SystemExit(f"--setting {pair!r}: expected key=value with key one of "
                             f"{', '.join(sorted(set(known) | {f.name for f in dataclasses.fields(SimSettings)}))}")
        current = getattr(target, key)
        parsed: object = (value.lower() == "true" if isinstance(current, bool) else
                          type(current)(value) if isinstance(current, int | float) else value)
        setattr(target, key, parsed)
    return dataclasses.replace(settings, faults=faults)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tevo_bridge_skybox_pos.simulator")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--setting", action="append", default=[], help="e.g. partial_holds=split, latency=0.05")
    parser.add_argument("--listings", type=Path, help="a seller's listings: an inventory CSV (the columns of "
                        "tevo_bridge.pos.inventory.CSV_COLUMNS; relative PDF paths under its folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = _listings(args.listings) if args.listings else generate_inventory(Path(folder), args.groups, args.seed)
        with running(_parse(args.setting), rows, port=args.port) as sim:
            print(f"SkyBox simulator on {sim.base_url} ({sim.state.settings.describe()})")
            print(f'[plugins.skybox_pos]\nbase_url = "{sim.base_url}"\naccount_id = {sim.credentials.account}')
            print(f"export TEVO_BRIDGE_PLUGINS__SKYBOX_POS__API_TOKEN={sim.credentials.api_token}")
            print(f"export TEVO_BRIDGE_PLUGINS__SKYBOX_POS__APPLICATION_TOKEN={sim.credentials.application_token}")
            for remote_id, pos_id in sim.pos_ids.items():
                print(f"  {visible(remote_id)} -> exchangePosId {pos_id}")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass


def _listings(path: Path) -> list[InventoryRow]:
    """The seller's rows, every ticket PDF present, or an exit naming the file and each bad line."""
    try:
        rows = read_inventory_csv(path, pdf_dir=path.parent)
    except (InventoryFileError, OSError) as exc:
        raise SystemExit(f"--listings: {exc}") from None
    lettered = [f"{r.remote_id} ({' '.join(r.seats)})" for r in rows if not all(s.isdigit() for s in r.seats)]
    if lettered:  # SkyBox numbers seats; a simulator that guessed would sell other tickets than the PDF's
        raise SystemExit(f"--listings: {path}: SkyBox seat numbers are whole numbers; not so in {', '.join(lettered)}")
    # The simulator reads each PDF once, at start, from wherever it runs: anchor the CSV's relative paths.
    return [dataclasses.replace(r, eticket_pdf=str(r.pdf_path(path.parent))) if r.eticket_pdf else r for r in rows]


if __name__ == "__main__":
    main()
