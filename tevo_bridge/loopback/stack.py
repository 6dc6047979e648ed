"""The whole system on loopback: the TEvo sandbox, the daemon (real uvicorn) and a SQLite POS mirroring it.

The end-to-end tests, the demo, the benchmarks and the reliability suite all
start the system through ``stack()``, so they exercise exactly what a seller runs.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tevo_bridge.config import Settings
from tevo_bridge.intake.poller import poll_once
from tevo_bridge.log import configure_logging
from tevo_bridge.loopback.seed import seed_sqlite_mirror
from tevo_bridge.sandbox.driver import DriverSettings
from tevo_bridge.sandbox.faults import FaultSettings
from tevo_bridge.sandbox.inventory import TicketGroupSpec, demo_inventory
from tevo_bridge.sandbox.server import Sandbox, running_sandbox
from tevo_bridge.serve import RunningDaemon, free_port, running_daemon
from tevo_bridge.store import Store, StoreUnavailable

API_KEY = "e2e-order-integration-key-0123456789"
WEBHOOK_TOKEN = "e2e-webhook-token-0123456789abcdefghij"
SETTLED = {"done", "rejected", "canceled", "needs_review", "resolved"}


@dataclass
class Stack:
    sandbox: Sandbox
    daemon: RunningDaemon
    pos_db: Path
    tmp: Path

    @property
    def store(self) -> Store:
        return self.daemon.runtime.store.sync

    def store_toml(self) -> str:
        """The ``[store]`` table of a config naming this daemon's store, for the CLI (``orders``, ``store``)."""
        settings = self.daemon.runtime.settings.store
        url = settings.postgres_url
        return f'[store]\nurl = "{url}"\n' if url else f'[store]\npath = "{settings.path}"\n'

    def state(self, order_id: int) -> str | None:
        row = self.store.get_order(order_id)
        return row.state if row else None

    def wait_settled(self, order_ids: list[int], timeout: float = 30.0) -> dict[int, str | None]:
        """Each order's state once all are settled, or as they are at the deadline.

        A store that cannot be reached yet (a PostgreSQL pool still reconnecting after a restart the test made)
        is asked again until the deadline: the question is where the orders end, not whether this look worked."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                states = {oid: self.state(oid) for oid in order_ids}
            except StoreUnavailable:
                time.sleep(0.5)
                continue
            if all(s in SETTLED for s in states.values()):
                return states
            time.sleep(0.05)
        return {oid: self.state(oid) for oid in order_ids}

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> bool:
        return wait_for(predicate, timeout)

    def poll(self) -> int:
        """Run one poll cycle on the daemon's own event loop, as its poller task would."""
        loop = self.daemon.runtime.loop
        if loop is None:
            raise RuntimeError("the daemon has not started: no event loop to poll on")
        return asyncio.run_coroutine_threadsafe(poll_once(self.daemon.runtime), loop).result(timeout=30)

    def pos(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.pos_db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def pos_write(self, sql: str, *args: Any) -> None:
        """Change the POS database as a seller would (the plugin reads it afresh on every call)."""
        conn = sqlite3.connect(self.pos_db)
        try:
            with conn:
                conn.execute(sql, args)
        finally:
            conn.close()

    def invoices_for(self, order_id: int) -> int:
        count: int = self.pos("SELECT COUNT(*) FROM invoices WHERE tevo_order_id = ?", order_id)[0][0]
        return count


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, every: float = 0.05) -> bool:
    """Whether ``predicate`` came true within ``timeout`` seconds, looked at every ``every`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def settings_for(sandbox: Sandbox, tmp: Path, pos_db: Path, port: int, **sections: dict[str, Any]) -> Settings:
    tevo = {**sandbox.bridge_settings(), "backoff_base": 0.05, "backoff_cap": 0.5, "read_timeout": 3,
            "connect_timeout": 1, "max_retries": 3}
    base: dict[str, Any] = {
        "tevo": tevo,
        "server": {"port": port, "webhook_token": WEBHOOK_TOKEN, "hold_budget": 2.0, "invoice_budget": 0.5,
                   "order_integration": {"api_keys": [API_KEY]}},
        "store": {"path": str(tmp / "state.sqlite3")},
        "poller": {"enabled": False},
        # The looks after delivery (until TEvo says completed) on, but short: a test waiting for every job to end
        # waits under a second for a FedEx order TEvo never completes.
        "pipeline": {"backoff_base": 0.05, "backoff_cap": 0.5, "max_attempts": 8, "lease_seconds": 30,
                     "after_delivery_checks": 3, "after_delivery_check_seconds": 0.1},
        "fulfillment": {"airbill_dir": str(tmp / "airbills"),
                        "local_pickup": {"contact_name": "Box Office", "phone_number": "212-555-0142",
                                         "street_address": "1 Main St", "locality": "New York", "region": "NY",
                                         "postal_code": "10001", "time_range": "6:00 PM - 7:30 PM"}},
        "pos": {"plugin": "sqlite_pos"},
        "plugins": {"sqlite_pos": {"database": str(pos_db)}},
        "log": {"format": "json", "level": "info"},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return Settings(**base)


SECRETS = [API_KEY, WEBHOOK_TOKEN]


#: The ``[store]`` settings of a stack whose caller names none: the SQLite file in ``tmp`` unless a test suite
#: sets another (tests/e2e runs its tests once per store backend by setting a PostgreSQL URL here).
default_store: dict[str, Any] = {}


@contextmanager
def stack(tmp: Path, *, faults: FaultSettings | None = None, seed: int = 7,
          inventory: list[TicketGroupSpec] | None = None, driver: dict[str, Any] | None = None,
          log_level: str = "debug", pos_host: Callable[[Path], Any] | None = None,
          **sections: dict[str, Any]) -> Iterator[Stack]:
    """Sandbox, POS and daemon, wired to each other; the daemon logs JSON lines to ``tmp/daemon.log``.

    ``pos_host``, given the mirrored POS database, builds the ``PluginHost`` the daemon uses instead of
    loading the configured plugin (a test's misbehaving subclass of the SQLite POS, say).
    """
    port = free_port()
    bridge = f"http://127.0.0.1:{port}"
    driver_settings = DriverSettings(webhook_url=f"{bridge}/webhooks/tevo/{WEBHOOK_TOKEN}", oi_base_url=bridge,
                                     oi_api_key=API_KEY, **{"retry_scale": 0.005, "fraud_delay": 0.3, **(driver or {})})
    inventory = inventory if inventory is not None else demo_inventory()
    pos_db = tmp / "pos.sqlite3"
    seed_sqlite_mirror(pos_db, inventory, tmp / "tickets")
    with ExitStack() as exits:
        sandbox = exits.enter_context(running_sandbox(seed=seed, driver=driver_settings,
                                                      faults=faults or FaultSettings(), inventory=inventory))
        if default_store and "store" not in sections:
            sections = {**sections, "store": default_store}
        settings = settings_for(sandbox, tmp, pos_db, port, **sections)
        log_file = exits.enter_context((tmp / "daemon.log").open("w"))
        configure_logging(log_level, "json", settings.secrets(), stream=log_file)
        exits.callback(quiet_logging)  # runs after the daemon stops, before the file closes
        host = pos_host(pos_db) if pos_host is not None else None
        daemon = exits.enter_context(running_daemon(settings, pos_host=host))
        yield Stack(sandbox, daemon, pos_db, tmp)


def quiet_logging() -> None:
    configure_logging("warning", "json")


def webhook_form(order: dict[str, Any], event_type: str = "order_created") -> bytes:
    """The form TEvo posts (§6.1) for an order as the sandbox holds it now."""
    group = order["oid"].strip().split("-")[0]
    body = json.dumps(order, separators=(",", ":"))
    return urlencode([("order_group_id", group), ("recipient", "seller"), ("event_type", event_type),
                      ("body", body)]).encode()
