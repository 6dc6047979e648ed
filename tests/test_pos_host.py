"""PluginHost calls: typed results, time budgets, wrapped errors, fan-out notifications."""

from __future__ import annotations

import threading

import pytest

from tests.pos_stubs import HOLD, ITEM, FailingPos, HangingHoldPos, StubPos
from tevo_bridge import hookimpl
from tevo_bridge.pos.errors import PluginMissingHooks, PosError, PosTimeout
from tevo_bridge.pos.hookspecs import ALL_HOOKS, DEFAULT_BUDGETS
from tevo_bridge.pos.host import PluginHost, resolve_budgets
from tevo_bridge.pos.types import Availability, Buyer, HoldResult, OrderEvent

SHORT = {"hold": 0.05, "order_event": 0.05}
BUYER = Buyer("Client", 3381027, "Megan Alvarez")
EVENT = OrderEvent(402117, "accepting", "checking", "all items in stock")


@pytest.fixture
def hanging():
    plugin = HangingHoldPos()
    yield plugin
    plugin.release.set()  # let the abandoned worker thread finish


async def test_a_hook_answer_comes_back_typed(make_pos_host) -> None:
    host = make_pos_host(StubPos(StubPos.Config(stock=7)))
    assert await host.check_inventory(ITEM) == Availability("TG-1", 7)


async def test_a_hook_over_budget_raises_pos_timeout_naming_hook_and_budget(make_pos_host, hanging) -> None:
    host = make_pos_host(hanging, SHORT)
    with pytest.raises(PosTimeout) as raised:
        await host.hold(HOLD)
    assert (raised.value.hook, raised.value.budget) == ("pos_hold", 0.05)


async def test_a_timed_out_hold_that_succeeds_late_is_visible_on_its_future(make_pos_host, hanging) -> None:
    """The daemon releases a hold that lands after its timeout: the future is how it finds out."""
    host = make_pos_host(hanging, SHORT)
    with pytest.raises(PosTimeout) as raised:
        await host.hold(HOLD)
    hanging.release.set()
    assert raised.value.future.result(timeout=5) == HoldResult(True, "G-1", 0)


def test_call_sync_has_the_same_budget(make_pos_host, hanging) -> None:
    host = make_pos_host(hanging, SHORT)
    with pytest.raises(PosTimeout):
        host.call_sync("pos_hold", hold=HOLD)


def test_a_call_queued_behind_hung_ones_is_cancelled_when_its_budget_ends(hanging) -> None:
    """With every worker hung, a later hold never starts, so there is nothing to compensate."""
    with PluginHost("hanging", hanging, SHORT, pool_size=1) as host:
        first = host._submit("pos_hold", {"hold": HOLD})
        assert hanging.started.wait(timeout=5)
        with pytest.raises(PosTimeout) as raised:
            host.call_sync("pos_hold", hold=HOLD)
        hanging.release.set()
        first.result(timeout=5)
    assert raised.value.future.cancelled()


async def test_other_hooks_still_answer_while_one_call_hangs(make_pos_host, hanging) -> None:
    host = make_pos_host(hanging, SHORT)
    with pytest.raises(PosTimeout):
        await host.hold(HOLD)
    assert (await host.check_inventory(ITEM)).available == 10


async def test_a_plugin_exception_is_wrapped_with_its_message(make_pos_host) -> None:
    host = make_pos_host(FailingPos())
    with pytest.raises(PosError, match="pos_check_inventory: ConnectionError: POS server at 10.0.0.5") as raised:
        await host.check_inventory(ITEM)
    assert isinstance(raised.value.original, ConnectionError)


@pytest.mark.parametrize("sync", [False, True])
async def test_a_plugins_own_timeout_error_is_a_pos_error_not_a_budget_overrun(make_pos_host, sync: bool) -> None:
    host = make_pos_host(FailingPos())
    with pytest.raises(PosError, match="TimeoutError: POS API read timed out"):
        if sync:
            host.call_sync("pos_find_customer", buyer=BUYER)
        else:
            await host.find_customer(BUYER)


async def test_a_wrongly_typed_answer_is_a_pos_error(make_pos_host) -> None:
    host = make_pos_host(FailingPos())
    with pytest.raises(PosError, match="pos_accept_price returned dict, expected PriceDecision"):
        await host.accept_price(ITEM)


async def test_an_absent_optional_hook_answers_none(make_pos_host) -> None:
    from tevo_bridge.testing.samples import sample_order

    order = sample_order("mobile_transfer_tbd")
    host = make_pos_host(StubPos())
    assert (host.has_hook("mobile_transfer"), await host.mobile_transfer(order, order.items[0])) == (False, None)


def test_has_hook_refuses_a_name_that_is_no_hook(make_pos_host) -> None:
    with pytest.raises(ValueError, match="pos_hodl"):
        make_pos_host(StubPos()).has_hook("pos_hodl")


def test_a_host_over_an_incomplete_plugin_is_refused() -> None:
    class OnlyInventory:
        pos_check_inventory = StubPos.pos_check_inventory

    with pytest.raises(PluginMissingHooks, match="pos_accept_price"):
        PluginHost("only_inventory", OnlyInventory())


# -- notifications ------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[OrderEvent] = []

    @hookimpl
    def pos_order_event(self, event: OrderEvent) -> None:
        self.events.append(event)


class Exploder:
    @hookimpl
    def pos_order_event(self, event: OrderEvent) -> None:
        raise RuntimeError("chat webhook returned 500")


class Sleeper:
    def __init__(self) -> None:
        self.wake = threading.Event()

    @hookimpl
    def pos_order_event(self, event: OrderEvent) -> None:
        self.wake.wait(timeout=30)


async def test_every_listener_hears_an_event_even_after_one_raises(make_pos_host) -> None:
    host = make_pos_host(StubPos())
    recorder = Recorder()
    host.add_listener(Exploder(), "exploder")
    host.add_listener(recorder, "recorder")
    await host.notify(EVENT)
    assert recorder.events == [EVENT]


async def test_a_hung_listener_does_not_hold_notify_up(make_pos_host) -> None:
    host = make_pos_host(StubPos(), SHORT)
    sleeper = Sleeper()
    host.add_listener(sleeper, "sleeper")
    try:
        assert await host.notify(EVENT) is None
    finally:
        sleeper.wake.set()


def test_a_listener_may_not_answer_pos_hooks(make_pos_host) -> None:
    with pytest.raises(ValueError, match="only pos_order_event, not pos_accept_price"):
        make_pos_host(StubPos()).add_listener(StubPos(), "second_pos")


# -- budgets ------------------------------------------------------------------------------------


def test_budgets_default_to_the_documented_values() -> None:
    assert (resolve_budgets(None)["pos_hold"], resolve_budgets(None)["pos_create_invoice"]) == (3.0, 30.0)


def test_a_budget_may_be_overridden_with_or_without_the_prefix() -> None:
    budgets = resolve_budgets({"hold": 1.5, "pos_ticket_files": 90})
    assert (budgets["pos_hold"], budgets["pos_ticket_files"]) == (1.5, 90.0)


def test_an_unknown_budget_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hook 'hodl'"):
        resolve_budgets({"hodl": 1})


def test_a_non_positive_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="pos_hold must be a positive"):
        resolve_budgets({"hold": 0})


def test_every_hook_has_a_default_budget() -> None:
    assert set(DEFAULT_BUDGETS) == set(ALL_HOOKS)
