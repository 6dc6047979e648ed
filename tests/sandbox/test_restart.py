"""A sandbox restarted with ``--state`` carries on where it stopped: no seat sold twice, no id used twice.

Each test starts a real sandbox, sells, stops it, and starts another on the same state file, as a seller
does between rehearsal sessions.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx

from tests.sandbox.helpers import Receiver
from tevo_bridge.sandbox.driver import DriverSettings
from tevo_bridge.sandbox.inventory import TicketGroupSpec
from tevo_bridge.sandbox.server import running_sandbox, serving


def one_listing(seats: int = 4) -> list[TicketGroupSpec]:
    return [TicketGroupSpec("70001", 400000001, "Hamilton", "Richard Rodgers Theatre", "2027-03-01T20:00:00Z",
                            "Orchestra", "K", [str(n) for n in range(1, seats + 1)], Decimal("100"),
                            Decimal("120"))]


def test_a_restart_never_sells_the_same_seats_or_reuses_an_order_id(tmp_path: Path) -> None:
    state = tmp_path / "world.json"
    with running_sandbox(seed=1, state_file=state, inventory=one_listing()) as first:
        before = httpx.post(f"{first.base_url}/_sandbox/orders", json={"scenario": "office_eticket"}).json()
        first_seats = first.world.orders[before["order_id"]]["items"][0]["ticket_group"]["seats"]
    with running_sandbox(seed=1, state_file=state, inventory=one_listing()) as second:
        after = httpx.post(f"{second.base_url}/_sandbox/orders", json={"scenario": "office_eticket"}).json()
        second_seats = second.world.orders[after["order_id"]]["items"][0]["ticket_group"]["seats"]
        sold_out = httpx.post(f"{second.base_url}/_sandbox/orders", json={"scenario": "office_eticket"})
    assert after["order_id"] != before["order_id"]
    assert (first_seats, second_seats) == (["1", "2"], ["3", "4"])
    assert sold_out.status_code == 409 and "used up" in sold_out.json()["error"]


def test_a_restart_never_reuses_a_hold_id(tmp_path: Path) -> None:
    state = tmp_path / "world.json"
    fake = Receiver()
    with serving(fake.app()) as seller:
        settings = DriverSettings(oi_base_url=seller.base_url, oi_api_key="k", retry_scale=0.0)
        for _ in range(2):
            with running_sandbox(seed=1, state_file=state, inventory=one_listing(8), driver=settings) as tevo:
                tevo.driver.create_sync("oi_release")
                tevo.driver.drain_sync()
    holds = [body["global_id"] for body in fake.calls("hold")]
    assert len(holds) == 2 and holds[0] != holds[1]


def test_seats_set_aside_after_an_unanswered_hold_stay_aside_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "world.json"
    fake = Receiver(hold_answer=(503, {"status": "error"}))
    with serving(fake.app()) as seller:
        settings = DriverSettings(oi_base_url=seller.base_url, oi_api_key="k", retry_scale=0.0)
        with running_sandbox(seed=1, state_file=state, inventory=one_listing(), driver=settings) as first:
            first.driver.create_sync("oi_invoice")  # no clear answer: seats 1 and 2 are set aside
            first.driver.drain_sync()
    with running_sandbox(seed=1, state_file=state, inventory=one_listing()) as second:
        order = httpx.post(f"{second.base_url}/_sandbox/orders", json={"scenario": "office_eticket"}).json()
        seats = second.world.orders[order["order_id"]]["items"][0]["ticket_group"]["seats"]
    assert seats == ["3", "4"]


def test_serve_restarted_with_the_same_state_file_sells_the_other_seats(tmp_path: Path) -> None:
    """As a seller runs it: `sandbox serve --state`, an order, Ctrl-C (SIGTERM here), the same command again."""
    from tests.sandbox.test_cli import banner_value, served

    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"listings": [g.to_json() for g in one_listing()]}))
    options = ("--seed", "1", "--state", str(tmp_path / "world.json"), "--inventory", str(inventory))
    seats = []
    for _ in range(2):
        with served(*options, until="Inspect:") as (text, _rest):
            url = banner_value(text, r"listening on (\S+)")
            order_id = httpx.post(f"{url}/_sandbox/orders", json={"ticket_group_id": 400000001}).json()["order_id"]
            shown = httpx.get(f"{url}/_sandbox/orders").json()["orders"]
            seats.append((order_id, len(shown)))
    world = json.loads((tmp_path / "world.json").read_text())
    sold = [o["items"][0]["ticket_group"]["seats"] for o in world["orders"]]
    assert seats[0][0] != seats[1][0] and [n for _, n in seats] == [1, 2]
    assert sold == [["1", "2"], ["3", "4"]]
