"""A contract version 1 plugin (declares nothing, has no optional hook) still takes orders to their end.

Version 2 only adds: the plugin below is what a plugin written for version 1 looks like, its eight
required hooks forwarded to the SQLite POS, and it records what ``pos_create_invoice`` was handed,
so the same run shows the invoice context (contract 2's new ``Order`` fields) reaching a plugin.
"""

from __future__ import annotations

from typing import Any

from tevo_bridge_sqlite_pos import SqlitePos

from tevo_bridge import hookimpl
from tevo_bridge.loopback.stack import stack
from tevo_bridge.pos.discovery import contract_versions
from tevo_bridge.pos.hookspecs import OPTIONAL_HOOKS
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.sandbox.scenarios import Scenario


class VersionOnePos:
    """Only the hooks of contract 1's required list; no TEVO_BRIDGE_CONTRACT anywhere."""

    def __init__(self, inner: SqlitePos) -> None:
        self.inner = inner
        self.invoiced: list[Any] = []

    @hookimpl
    def pos_check_inventory(self, item):
        return self.inner.pos_check_inventory(item)

    @hookimpl
    def pos_accept_price(self, item):
        return self.inner.pos_accept_price(item)

    @hookimpl
    def pos_find_customer(self, buyer):
        return self.inner.pos_find_customer(buyer)

    @hookimpl
    def pos_create_customer(self, buyer):
        return self.inner.pos_create_customer(buyer)

    @hookimpl
    def pos_hold(self, hold):
        return self.inner.pos_hold(hold)

    @hookimpl
    def pos_release_hold(self, hold):
        return self.inner.pos_release_hold(hold)

    @hookimpl
    def pos_create_invoice(self, order, customer):
        self.invoiced.append(order)
        return self.inner.pos_create_invoice(order, customer)

    @hookimpl
    def pos_ticket_files(self, order, item):
        return self.inner.pos_ticket_files(order, item)

    @property
    def ticket_dir(self):
        return self.inner.ticket_dir


def test_a_version_1_plugin_takes_orders_to_done_and_is_handed_the_invoice_context(tmp_path):
    plugins: list[VersionOnePos] = []

    def host(pos_db):
        plugin = VersionOnePos(SqlitePos(SqlitePos.Config(database=pos_db)))
        plugins.append(plugin)
        built = PluginHost("v1_pos", plugin)
        assert contract_versions("v1_pos", plugin) == (1,)
        assert [h for h in OPTIONAL_HOOKS if built.has_hook(h)] == []
        return built

    with stack(tmp_path, pos_host=host) as run:
        made = [run.sandbox.driver.create_sync(s) for s in (Scenario.OFFICE_ETICKET, Scenario.CLIENT_FRAUD_APPROVED,
                                                             Scenario.FEDEX)]
        ids = [m.order_id for m in made]
        states = run.wait_settled(ids, timeout=40)
        assert states == dict.fromkeys(ids, "done"), {i: run.store.get_order(i).last_error for i in ids}
        assert [run.invoices_for(i) for i in ids] == [1, 1, 1]
        invoiced = {order.order_id: order for order in plugins[0].invoiced}
        for order_id in ids:
            order = invoiced[order_id]
            assert order.oid.endswith(f"-{order_id}") and order.currency == "USD", order
            assert {item.currency for item in order.items} == {"USD"}, order
            assert sum(item.fees for item in order.items) == order.service_fee, order
            assert order.shipping is not None, order
        assert invoiced[ids[2]].shipping.method == "FedEx"
        assert invoiced[ids[0]].shipping.method == "Eticket"
