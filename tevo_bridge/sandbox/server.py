"""Run the sandbox for real: uvicorn on a loopback port, in a background thread.

``running_sandbox(...)`` is what end-to-end tests and the demo use: it binds a
free port first (so the URL is known before the first request), serves until
the ``with`` block ends, and stops cleanly, cancelling the driver's retries and
any connection a timeout fault is holding.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from tevo_bridge.sandbox import inspection
from tevo_bridge.sandbox.api import create_app
from tevo_bridge.sandbox.credentials import make_credentials
from tevo_bridge.sandbox.driver import BuyerDriver, DriverSettings
from tevo_bridge.sandbox.faults import FaultInjector, FaultSettings
from tevo_bridge.sandbox.inventory import TicketGroupSpec, demo_inventory
from tevo_bridge.sandbox.orders import SELLER_BROKERAGE_ID, SELLER_OFFICE_ID, OrderRequest
from tevo_bridge.sandbox.picks import requested
from tevo_bridge.sandbox.pos_export import PosInventoryExport
from tevo_bridge.sandbox.state import DEFAULT_REVIEWER_ID, World


class _PromptServer(uvicorn.Server):
    """uvicorn notices ``should_exit`` on a 0.1 s tick; tests start and stop many servers, so wake at once."""

    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            try:
                await asyncio.wait_for(self._wake.wait(), 0.1)
            except TimeoutError:
                pass

    def request_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        self.should_exit = True
        if self._wake is not None:
            loop.call_soon_threadsafe(self._wake.set)


class BackgroundServer:
    """Any ASGI app under uvicorn on a loopback port, with its own event loop in a thread.

    The loop is shared with whatever else must live beside the server (the buyer
    driver), so work can be handed to it from any thread with ``submit``.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="tevo-sandbox", daemon=True)
        self.app = app  # may be set until start(): the sandbox builds its app after its driver
        self._server: _PromptServer | None = None
        self._socket: socket.socket | None = None
        self._serving: concurrent.futures.Future[None] | None = None
        self.base_url = ""

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        # Bind first, so the URL is known (and fixed) before uvicorn runs.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this: without it, Nagle and delayed ACKs add 40 ms per answer.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((self.host, self.port))
        self.base_url = f"http://{self.host}:{self._socket.getsockname()[1]}"
        server = self._server = _PromptServer(uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1))
        self._thread.start()
        serving = self._serving = self.submit(server.serve(sockets=[self._socket]))
        deadline = time.monotonic() + timeout
        while not server.started:
            if serving.done():
                serving.result()  # raises the start-up error
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self, before_loop_stops: Coroutine[Any, Any, Any] | None = None) -> None:
        try:
            if self._serving is not None and self._server is not None:
                self._server.request_exit(self.loop)
                self._serving.result(timeout=15)
                self._serving = None
            if before_loop_stops is not None:
                self.submit(before_loop_stops).result(timeout=10)
        finally:
            if self._thread.is_alive():
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout=10)
                self.loop.close()
            if self._socket is not None:
                self._socket.close()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[BackgroundServer]:
    """Serve any ASGI app for the duration of a ``with`` block (tests use it for fake receivers)."""
    server = BackgroundServer(app, host, port).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"  # loopback only, by design
    port: int = 0  # 0 picks a free port
    seed: int | None = None
    token: str | None = None
    secret: str | None = None
    reviewer_ids: tuple[int, ...] = (DEFAULT_REVIEWER_ID, 4712, 4713)
    faults: FaultSettings = field(default_factory=FaultSettings)
    state_file: Path | None = None
    fedex_transit_seconds: float | None = None  # None: FedEx is delivered only by world.deliver_shipment
    signed_host: str | None = None  # None: verify against the Host header the client sent
    raw_airbill: bool = False  # Get Airbill answers raw PDF bytes instead of TEvo's JSON
    inventory: list[TicketGroupSpec] | None = None  # None: demo_inventory()
    # Written at start: the listings as a POS import CSV, ticket PDFs in a tickets/ folder beside it.
    inventory_csv: Path | None = None
    driver: DriverSettings = field(default_factory=DriverSettings)


class Sandbox:
    """A running sandbox: where it is, how to sign for it, and what happened inside."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        creds = make_credentials(config.token, config.secret, config.seed)
        self.token, self.secret = creds.token, creds.secret
        self.world = World(reviewer_ids=config.reviewer_ids, state_file=config.state_file,
                           fedex_transit_seconds=config.fedex_transit_seconds)
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self._server = BackgroundServer(None, config.host, config.port)
        listings = config.inventory or demo_inventory()
        self.driver = BuyerDriver(self.world, listings, self._server.loop,
                                  config.driver, self.faults, seed=config.seed)
        pdf_dir = config.inventory_csv.parent / "tickets" if config.inventory_csv else None
        self.pos_inventory = PosInventoryExport(listings, pdf_dir)
        self.app = create_app(self.world, self.token, self.secret, self.faults, config.signed_host,
                              self._create_hook, raw_airbill=config.raw_airbill, pos_inventory=self.pos_inventory,
                              cancel_hook=self.driver.cancel)
        self._server.app = self.app
        self.base_url = ""

    @property
    def reviewer_id(self) -> int:
        return self.config.reviewer_ids[0]

    @property
    def office_id(self) -> int:
        return SELLER_OFFICE_ID

    @property
    def brokerage_id(self) -> int:
        return SELLER_BROKERAGE_ID

    def start(self, timeout: float = 10.0) -> Sandbox:
        if self.config.inventory_csv is not None:  # before serving: the seller imports it, then orders come
            self.pos_inventory.write(self.config.inventory_csv)
        self._server.start(timeout)
        self.base_url = self._server.base_url
        return self

    def stop(self) -> None:
        self._server.stop(before_loop_stops=self.driver.aclose())
        self.pos_inventory.close()

    # -- conveniences for tests and the demo -------------------------------------------------

    def create_order(self, request: OrderRequest) -> dict[str, Any]:
        """Put an order straight into the world, with no announcement."""
        return self.world.create_order(request)

    def inspect(self, order_id: int) -> dict[str, Any]:
        return inspection.inspect_order(self.world, order_id)

    def orders(self) -> list[dict[str, Any]]:
        return inspection.summary(self.world)

    def bridge_settings(self) -> dict[str, Any]:
        """The ``[tevo]`` values a bridge config needs to talk to this sandbox."""
        return {"base_url": self.base_url, "token": self.token, "secret": self.secret,
                "office_id": SELLER_OFFICE_ID, "brokerage_id": SELLER_BROKERAGE_ID, "reviewer_id": self.reviewer_id}

    # -- internals ------------------------------------------------------------------------------

    async def _create_hook(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /_sandbox/orders {"scenario": ..., "channels": [...], "ticket_group_id": ..., "quantity": ...,
        "cancel": ...}``, for plugin authors and sellers without Python (``cancel``: ``before_invoice`` or
        ``after_delivery``, when TEvo cancels the order).

        Raises ``ValueError`` for a request it cannot serve and ``InventoryExhausted`` when the
        listings are sold out; the route turns each into its own JSON error.
        """
        scenario, pick = requested(body, self.driver.planner.inventory)
        channels = body.get("channels") or self.driver.configured_channels(scenario)
        if channels is None:
            raise ValueError(f"{scenario.value} needs Order Integration, and no oi_base_url is configured")
        created = await self.driver.create(scenario, channels, pick, body.get("cancel"))
        return created.to_json()


@contextmanager
def running_sandbox(config: SandboxConfig | None = None, **overrides: Any) -> Iterator[Sandbox]:
    """``with running_sandbox(seed=1) as tevo: ...``; keyword overrides set ``SandboxConfig`` fields."""
    config = config or SandboxConfig()
    for name, value in overrides.items():
        if not hasattr(config, name):
            raise TypeError(f"unknown sandbox setting {name!r}")
        setattr(config, name, value)
    sandbox = Sandbox(config).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
