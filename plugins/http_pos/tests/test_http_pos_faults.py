"""A remote POS that is slow, late (the lost answer) or down, through the same PluginHost the daemon uses."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from tevo_bridge_http_pos import HttpPos
from tevo_bridge_http_pos.client import Unreachable
from tevo_bridge_http_pos.reference import RunningReference

from tevo_bridge.pos.errors import PosError, PosTimeout
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.types import Buyer, Hold, Item, Order

BUDGET = 0.5
#: The slow server's delay: far beyond BUDGET, so a hook that waited for it would be seen waiting.
SLOW = 30.0
#: A liveness bound for a hook to give up after its deadline (it should take about BUDGET).
GIVE_UP_WITHIN = 10.0

CLIENT = Buyer("Client", 3381027, "Megan Alvarez", "megan.alvarez@example.com", None)


def item(remote_id: str = "88507", quantity: int = 2, *, order_id: int | None = None,
         global_id: str | None = None) -> Item:
    return Item(order_id, 11, remote_id, quantity, Decimal("400.00"), ("105", "106")[:quantity], global_id=global_id)


def order(order_id: int, *, global_id: str | None = None) -> Order:
    line = item(order_id=order_id, global_id=global_id)
    return Order(order_id, Buyer("Office", 6, "Ticket Evolution"), (line,), Decimal("800.00"))


def available(host: PluginHost, remote_id: str = "88507") -> int:
    return int(host.call_sync("pos_check_inventory", item=item(remote_id)).available)


HOOK_CALLS: dict[str, dict[str, object]] = {
    "pos_check_inventory": {"item": item()},
    "pos_accept_price": {"item": item()},
    "pos_find_customer": {"buyer": CLIENT},
    "pos_create_customer": {"buyer": CLIENT},
    "pos_hold": {"hold": Hold("G-slow", "88507", 2)},
    "pos_release_hold": {"hold": Hold("G-slow", "88507", 2)},
    "pos_create_invoice": {"order": order(501), "customer": None},
    "pos_ticket_files": {"order": order(501), "item": item(order_id=501)},
    "pos_void_invoice": {"order": order(501), "invoice_id": "INV-501", "reason": "canceled by TEvo"},
}


# -- slow: each hook gives up by its own deadline ----------------------------------------------------


@pytest.mark.parametrize("hook", sorted(HOOK_CALLS))
def test_a_slow_pos_makes_each_hook_give_up_by_its_deadline(
    hook: str, reference: RunningReference, make_plugin: Callable[..., HttpPos],
    make_pos_host: Callable[..., PluginHost],
) -> None:
    host = make_pos_host(make_plugin(), budgets={hook: BUDGET})
    reference.faults.delay = SLOW

    with pytest.raises((PosTimeout, PosError)) as caught:
        host.call_sync(hook, **HOOK_CALLS[hook])

    # The host stops waiting at the budget either way; what matters is that the plugin's own call stopped too,
    # rather than holding a worker thread (and a connection) for the server's 30 s.
    if isinstance(caught.value, PosTimeout):
        error = caught.value.future.exception(timeout=GIVE_UP_WITHIN)
    else:
        error = caught.value.original
    assert isinstance(error, Unreachable), f"{hook}: expected the plugin to give up by its deadline, got {error!r}"
    assert "within the hook's deadline" in str(error)


def test_a_slow_pos_is_unhealthy_within_the_health_budget(
    reference: RunningReference, make_plugin: Callable[..., HttpPos], make_pos_host: Callable[..., PluginHost],
) -> None:
    host = make_pos_host(make_plugin(), budgets={"pos_health": BUDGET})
    reference.faults.delay = SLOW
    answer = host.health_sync()
    assert answer.ok is False


# -- late: the write happened, its answer was lost; the retry with the same key writes nothing more ----------


@pytest.fixture
def late(reference: RunningReference, make_plugin: Callable[..., HttpPos],
         make_pos_host: Callable[..., PluginHost]) -> PluginHost:
    host = make_pos_host(make_plugin())
    reference.faults.lose_first_answers = True
    return host


def posts(reference: RunningReference, path: str) -> list[str]:
    """The Idempotency-Key of each POST to ``path`` the server handled (a lost answer's included)."""
    return [e.headers.get("idempotency-key", "") for e in reference.exchanges if (e.method, e.path) == ("POST", path)]


def test_a_hold_whose_answer_was_lost_is_retried_with_its_key_and_holds_once(
    late: PluginHost, reference: RunningReference,
) -> None:
    result = late.call_sync("pos_hold", hold=Hold("G-late", "88507", 2))
    assert (result.held, result.hold_id, result.available) == (True, "G-late", 4)
    assert posts(reference, "/holds") == ["G-late", "G-late"]
    assert reference.store.count("holds") == 1 and available(late) == 4


def test_a_release_whose_answer_was_lost_frees_the_tickets_once(late: PluginHost, reference: RunningReference) -> None:
    late.call_sync("pos_hold", hold=Hold("G-late", "88507", 2))
    late.call_sync("pos_release_hold", hold=Hold("G-late", "88507", 2))
    assert posts(reference, "/holds/G-late/release") == ["G-late", "G-late"]
    assert available(late) == 6
    assert late.call_sync("pos_release_hold", hold=Hold("G-late", "88507", 2)) is False


def test_an_invoice_whose_answer_was_lost_sells_once(late: PluginHost, reference: RunningReference) -> None:
    invoice = late.call_sync("pos_create_invoice", order=order(601), customer=None)
    assert invoice.invoice_id == "INV-601"
    assert posts(reference, "/invoices") == ["601", "601"]
    assert (reference.store.count("invoices"), reference.store.count("invoice_lines")) == (1, 1)
    assert available(late) == 4


def test_an_invoice_consuming_its_hold_after_both_answers_were_lost_takes_the_tickets_once(
    late: PluginHost, reference: RunningReference,
) -> None:
    late.call_sync("pos_hold", hold=Hold("order-602-item-11-r1", "88507", 2, order_id=602))
    late.call_sync("pos_create_invoice", order=order(602, global_id="order-602-item-11-r1"), customer=None)
    assert available(late) == 4
    assert reference.store.count("holds", state="invoiced") == 1


def test_a_void_whose_answer_was_lost_voids_once_and_the_tickets_come_back(
    late: PluginHost, reference: RunningReference,
) -> None:
    late.call_sync("pos_create_invoice", order=order(603), customer=None)
    late.call_sync("pos_void_invoice", order=order(603), invoice_id="INV-603", reason="canceled by TEvo")
    assert posts(reference, "/invoices/INV-603/void") == ["INV-603", "INV-603"]
    assert reference.store.count("invoices", state="void") == 1 and available(late) == 6


def test_a_customer_whose_answer_was_lost_is_created_once(late: PluginHost, reference: RunningReference) -> None:
    created = late.call_sync("pos_create_customer", buyer=CLIENT)
    assert posts(reference, "/customers") == [str(CLIENT.id), str(CLIENT.id)]
    assert reference.store.count("customers") == 1
    assert late.call_sync("pos_find_customer", buyer=CLIENT) == created


# -- down --------------------------------------------------------------------------------------------


@pytest.fixture
def down(closed_port_url: str, token: str, make_pos_host: Callable[..., PluginHost]) -> PluginHost:
    return make_pos_host(HttpPos(HttpPos.Config(base_url=closed_port_url, token=token)))


def test_a_down_pos_is_unhealthy_and_says_where_it_looked(down: PluginHost, closed_port_url: str) -> None:
    answer = down.health_sync()
    assert answer.ok is False
    assert answer.reason.startswith(f"GET /health: no answer from the POS at {closed_port_url}"), answer.reason
    assert "ConnectError" in answer.reason


@pytest.mark.parametrize("hook", ["pos_check_inventory", "pos_hold", "pos_create_invoice"])
def test_a_down_pos_makes_hooks_raise_a_clear_error(down: PluginHost, closed_port_url: str, hook: str) -> None:
    with pytest.raises(PosError) as caught:
        down.call_sync(hook, **HOOK_CALLS[hook])
    assert isinstance(caught.value.original, Unreachable)
    assert f"no answer from the POS at {closed_port_url}" in str(caught.value)


def test_a_pos_answering_503_is_tried_again_then_reported(
    reference: RunningReference, make_plugin: Callable[..., HttpPos], make_pos_host: Callable[..., PluginHost],
) -> None:
    host = make_pos_host(make_plugin(attempts=3))
    reference.faults.down = True
    with pytest.raises(PosError, match=r"GET /listings/88507/availability: .*\(HTTP 503\)"):
        available(host)
    assert len([e for e in reference.exchanges if e.path == "/listings/88507/availability"]) == 3
    assert host.health_sync().ok is False
