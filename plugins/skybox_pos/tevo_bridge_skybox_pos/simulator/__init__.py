"""A SkyBox simulator: the API the plugin uses, with SkyBox's unknowns as settings (``SimSettings``).

``running(settings, rows)`` serves it on a loopback port for a ``with`` block; ``python -m
tevo_bridge_skybox_pos.simulator`` serves it until stopped, for the demo or a manual try.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.sandbox.server import BackgroundServer
from tevo_bridge_skybox_pos.simulator.app import Credentials, create_app
from tevo_bridge_skybox_pos.simulator.settings import VARIANTS, Faults, SimSettings
from tevo_bridge_skybox_pos.simulator.state import SimState

__all__ = ["VARIANTS", "Credentials", "Faults", "RunningSimulator", "SimSettings", "SimState", "running"]


@dataclass
class RunningSimulator:
    state: SimState
    credentials: Credentials
    base_url: str
    pos_ids: dict[str, int]  # remote_id of each seeded row -> its exchangePosId

    def hold_states(self, global_id: str) -> list[str]:
        """``held``, ``invoiced`` or ``released`` for each SkyBox hold with exactly this external ref."""
        state = self.state
        with state.lock:
            found = [h for h in state.holds.values() if h.external_ref == global_id]
            return ["held" if h.removed is None else
                    "invoiced" if all(state.tickets[i].status == "SOLD" for i in h.ticket_ids) else "released"
                    for h in found]

    def invoices_for(self, order_id: int) -> int:
        with self.state.lock:
            return sum(1 for i in self.state.invoices.values() if i.external_ref == str(order_id))

    def plugin_settings(self, **changes: object) -> dict[str, object]:
        """A ``[plugins.skybox_pos]`` table pointing at this simulator."""
        return {"base_url": self.base_url, "account_id": int(self.credentials.account),
                "api_token": self.credentials.api_token,
                "application_token": self.credentials.application_token} | changes


@contextmanager
def running(settings: SimSettings | None = None, rows: Iterable[InventoryRow] = (), *, host: str = "127.0.0.1",
            port: int = 0, credentials: Credentials | None = None, files_ready: bool = True,
            ) -> Iterator[RunningSimulator]:
    state = SimState(settings)
    pos_ids = state.seed(rows, files_ready=files_ready)
    creds = credentials or Credentials()
    server = BackgroundServer(create_app(state, creds), host, port).start()
    try:
        yield RunningSimulator(state, creds, server.base_url, pos_ids)
    finally:
        server.stop()
