"""pytest plugin of the tevo-bridge test kit, loaded automatically once tevo-bridge is installed.

Fixtures for POS plugin tests:
- ``pos_inventory``: the contract suite's ticket groups, with their e-ticket PDFs on disk;
- ``tevo_sample_orders``: the sample TEvo orders as ``Order`` values, by name;
- ``make_pos_host``: wraps a plugin instance in a ``PluginHost`` that is closed after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest

from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.inventory import InventoryRow
from tevo_bridge.pos.types import Order
from tevo_bridge.testing.inventory import contract_inventory
from tevo_bridge.testing.samples import SAMPLE_ORDERS, sample_order


@pytest.fixture(scope="session")
def pos_inventory(tmp_path_factory: pytest.TempPathFactory) -> list[InventoryRow]:
    """Drawn once per session: the rows are frozen and the PDFs only read, so tests can share them."""
    return contract_inventory(tmp_path_factory.mktemp("pos-inventory-pdfs"))


@pytest.fixture(scope="session")
def tevo_sample_orders() -> Mapping[str, Order]:
    return {name: sample_order(name) for name in SAMPLE_ORDERS}


@pytest.fixture
def make_pos_host() -> Iterator[Callable[..., PluginHost]]:
    """``make_pos_host(plugin, budgets=None, name=None)``: a host over an already-built plugin."""
    hosts: list[PluginHost] = []

    def make(plugin: object, budgets: Mapping[str, float] | None = None, name: str | None = None) -> PluginHost:
        host = PluginHost(name or type(plugin).__name__, plugin, budgets)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.close()
