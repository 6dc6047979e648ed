"""``python -m tevo_bridge_skybox_pos.simulator [--port N] [--groups N] [--setting key=value ...]``.

Serves the simulator seeded with generated inventory and prints the plugin settings to point a
config at (the tokens as environment variables, never in the config block).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = generate_inventory(Path(folder), args.groups, args.seed)
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


if __name__ == "__main__":
    main()
