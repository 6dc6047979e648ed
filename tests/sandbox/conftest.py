"""Fixtures: a real sandbox on loopback, a signed client for it, a fake seller receiver."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.sandbox.helpers import Receiver, TevoApi
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.orders import DEMO_CLIENTS, ItemRequest, OrderRequest
from tevo_bridge.sandbox.server import Sandbox, running_sandbox, serving


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(seed=7) as tevo:
        yield tevo


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[TevoApi]:
    client = TevoApi(sandbox.base_url, sandbox.token, sandbox.secret)
    yield client
    client.close()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    fake = Receiver()
    with serving(fake.app()) as server:
        yield fake, server.base_url


def group(remote_id: str):
    return next(g for g in demo_inventory() if g.remote_id == remote_id)


def order_request(remote_id: str = "88213", quantity: int = 2, shipment: str = "Eticket",
                  state: str = "pending", client: bool = False, **extra: Any) -> OrderRequest:
    g = group(remote_id)
    return OrderRequest(
        items=[ItemRequest(g, quantity, g.wholesale_price, g.seats[:quantity])],
        shipment_type=shipment, seller_state=state, client=DEMO_CLIENTS[0] if client else None,
        fraud_check_status="pending" if client else None, **extra,
    )


def multi_item_request(shipment: str = "Eticket") -> OrderRequest:
    a, b = group("88213"), group("88640")
    return OrderRequest(items=[ItemRequest(a, 2, a.wholesale_price, a.seats[:2]),
                               ItemRequest(b, 3, Decimal("120.0"), b.seats[:3])], shipment_type=shipment)


FAST = 0.0001  # TEvo's 10/120/600/3600 s retry schedule becomes 1/12/60/360 ms


@pytest.fixture
def driven(receiver: tuple[Receiver, str]) -> Iterator[tuple[Sandbox, Receiver]]:
    """A sandbox whose buyer driver announces to the fake receiver."""
    fake, url = receiver
    with running_sandbox(seed=11, driver=driver_settings(url)) as tevo:
        yield tevo, fake


def driver_settings(url: str, **overrides: Any) -> Any:
    from tevo_bridge.sandbox.driver import DriverSettings

    values: dict[str, Any] = {"webhook_url": url + "/webhooks/tevo/token", "oi_base_url": url, "oi_api_key": "k" * 32,
                              "retry_scale": FAST, "fraud_delay": 0.05}
    values.update(overrides)
    return DriverSettings(**values)
