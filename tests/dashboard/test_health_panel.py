"""The overview's Health panel: what pos_health says, and an honest "cannot supply" is no POS fault (issue 21)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from decimal import Decimal

import pytest

from tests.dashboard.conftest import client, dashboard_daemon
from tests.integration.conftest import INVENTORY
from tevo_bridge.pos.errors import OutOfStock, PosError
from tevo_bridge.pos.types import Buyer, Item, Order
from tevo_bridge.serve import RunningDaemon


def pos_panel(daemon: RunningDaemon) -> str:
    with client(daemon) as http:
        page = http.get("/dashboard/").text
    match = re.search(r"<dt>POS</dt>\s*<dd>(.*?)</dd>", page, re.S)
    assert match, "the overview has no POS line in its Health panel"
    return match.group(1)


def test_an_out_of_stock_refusal_leaves_the_pos_healthy_without_an_error(tmp_path, pos_db):
    group = INVENTORY[0]
    item = Item(order_id=8801, item_id=1, remote_id=group.remote_id, quantity=group.quantity + 5,
                price=Decimal("999"))
    order = Order(8801, Buyer("Office", 6, "Ticket Evolution"), (item,), Decimal("999") * item.quantity)
    with dashboard_daemon(tmp_path, pos_db) as daemon:
        call = daemon.runtime.pos.create_invoice(replace(order), None)
        with pytest.raises(PosError) as refused:
            asyncio.run_coroutine_threadsafe(call, daemon.runtime.loop).result(10)
        assert isinstance(refused.value.original, OutOfStock)  # the real sqlite_pos said "cannot supply"
        panel = pos_panel(daemon)
    assert '<span class="good">healthy</span>' in panel, panel
    assert "OutOfStock" not in panel and "requested" not in panel, panel


def test_the_panel_shows_what_pos_health_says(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db) as daemon:
        pos_db.unlink()  # the POS database gone under the running daemon
        panel = pos_panel(daemon)
    assert '<span class="bad">unhealthy: database' in panel and "cannot be read" in panel, panel
