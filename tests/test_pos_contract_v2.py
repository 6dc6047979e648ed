"""Contract 2 of the POS plugin contract: pos_health, pos_startup/pos_shutdown, versions, "did you mean".

Real hosts over small plugins (tests/pos_stubs.py), their hooks run in the host's worker threads.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import Future
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from tests.pos_stubs import StubPos
from tevo_bridge import health, hookimpl
from tevo_bridge.pos import deadline
from tevo_bridge.pos.discovery import checked_manager, contract_versions
from tevo_bridge.pos.errors import (
    OutOfStock,
    PluginHookError,
    PluginStartError,
    PluginVersionError,
    PosError,
)
from tevo_bridge.pos.hookspecs import CONTRACT_VERSION
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.probe import HealthProbe
from tevo_bridge.pos.types import Buyer, Customer, Invoice, Item, Order, PosHealth

ORDER = Order(7001, Buyer("Office", 6, "Ticket Evolution"),
              (Item(order_id=7001, item_id=1, remote_id="TG-1", quantity=2, price=Decimal("50")),), Decimal("100"))


# -- versions -----------------------------------------------------------------------------------

def _plugin_in_module(monkeypatch: pytest.MonkeyPatch, name: str, declared: object) -> type:
    """A StubPos subclass defined in a module of its own that declares ``TEVO_BRIDGE_CONTRACT = declared``."""
    module = ModuleType(name)
    module.TEVO_BRIDGE_CONTRACT = declared  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)
    return type("ModulePos", (StubPos,), {"__module__": name})


def test_this_tevo_bridge_implements_contract_2() -> None:
    assert CONTRACT_VERSION == 2


def test_a_plugin_that_declares_nothing_is_taken_as_version_1_and_loads() -> None:
    assert contract_versions("stub", StubPos()) == (1,)
    with PluginHost("stub", StubPos()) as host:
        assert host.call_sync("pos_check_inventory", item=ORDER.items[0]).available == 10


def test_a_plugin_built_for_another_major_version_is_refused_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = _plugin_in_module(monkeypatch, "acme_pos_v3", (3,))
    with pytest.raises(PluginVersionError) as refused:
        PluginHost("acme_pos", plugin())
    message = str(refused.value)
    assert message.startswith("POS plugin 'acme_pos' is built for POS contract version 3; this tevo-bridge "
                              "implements version 2"), message


def test_a_module_attribute_declaring_version_2_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = _plugin_in_module(monkeypatch, "acme_pos_v2", (2,))
    assert contract_versions("acme_pos", plugin()) == (2,)
    PluginHost("acme_pos", plugin()).close()


def test_a_plugin_declaring_version_2_as_a_class_attribute_loads() -> None:
    class Declared(StubPos):
        TEVO_BRIDGE_CONTRACT = (2,)

    assert contract_versions("declared", Declared()) == (2,)
    PluginHost("declared", Declared()).close()


def test_a_plugin_supporting_2_and_3_loads() -> None:
    class Both(StubPos):
        TEVO_BRIDGE_CONTRACT = (2, 3)

    PluginHost("both", Both()).close()


@pytest.mark.parametrize("declared", ["2", (), (2.0,), (True,)])
def test_a_malformed_declaration_is_refused_with_the_fix(declared: object) -> None:
    class Odd(StubPos):
        TEVO_BRIDGE_CONTRACT = declared

    with pytest.raises(PluginVersionError, match=r"'odd': TEVO_BRIDGE_CONTRACT must be a tuple"):
        checked_manager("odd", Odd())


# -- "did you mean" -----------------------------------------------------------------------------

@pytest.mark.parametrize(("misspelt", "meant"), [("pos_hodl", "pos_hold"),
                                                 ("pos_check_inventroy", "pos_check_inventory"),
                                                 ("pos_helth", "pos_health"), ("pos_shutdwon", "pos_shutdown")])
def test_a_misspelt_hook_is_refused_with_did_you_mean(misspelt: str, meant: str) -> None:
    def impl(self: object) -> None:
        return None

    plugin = type("Typo", (StubPos,), {misspelt: hookimpl(impl)})
    with pytest.raises(PluginHookError) as refused:
        PluginHost("typo_pos", plugin())
    assert str(refused.value) == f"POS plugin 'typo_pos': {misspelt} is not a POS hook; did you mean {meant}?"


def test_a_hook_name_like_no_hook_lists_the_hooks() -> None:
    plugin = type("Odd", (StubPos,), {"sync_everything": hookimpl(lambda self: None)})
    with pytest.raises(PluginHookError, match=r"sync_everything is not a POS hook; the hooks are pos_check_inventory"):
        PluginHost("odd_pos", plugin())


# -- lifecycle ----------------------------------------------------------------------------------

class LifecyclePos(StubPos):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    @hookimpl
    def pos_startup(self) -> None:
        self.calls.append("startup")

    @hookimpl
    def pos_shutdown(self) -> None:
        self.calls.append("shutdown")

    @hookimpl
    def pos_accept_price(self, item: Item) -> Any:
        self.calls.append("accept_price")
        return super().pos_accept_price(item)


def test_startup_runs_once_before_any_hook_and_shutdown_once_on_close() -> None:
    plugin = LifecyclePos()
    host = PluginHost("life", plugin)
    host.call_sync("pos_accept_price", item=ORDER.items[0])
    host.close()
    host.close()
    assert plugin.calls == ["startup", "accept_price", "shutdown"]


def test_a_failing_startup_refuses_the_plugin_naming_it() -> None:
    class NoPool(StubPos):
        @hookimpl
        def pos_startup(self) -> None:
            raise ConnectionRefusedError("POS database at 127.0.0.1:5999 refused the connection")

    with pytest.raises(PluginStartError, match=r"POS plugin 'nopool' failed to start: pos_startup: ConnectionRefusedError: POS"):
        PluginHost("nopool", NoPool())


def test_a_failing_shutdown_is_logged_and_swallowed() -> None:
    class BadClose(StubPos):
        @hookimpl
        def pos_shutdown(self) -> None:
            raise OSError("socket already closed")

    PluginHost("badclose", BadClose()).close()  # no exception: the process is stopping anyway


# -- health -------------------------------------------------------------------------------------

class HealthPos(StubPos):
    def __init__(self, answer: Any = None, hang: threading.Event | None = None) -> None:
        super().__init__()
        self.answer = PosHealth(True) if answer is None else answer
        self.hang = hang
        self.calls = 0

    @hookimpl
    def pos_health(self) -> PosHealth:
        self.calls += 1
        if self.hang is not None:
            self.hang.wait(timeout=30)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer  # type: ignore[no-any-return]


def test_without_the_hook_health_is_unknown_not_failing() -> None:
    with PluginHost("stub", StubPos()) as host:
        answer = host.health_sync()
    assert answer.ok is None and "no pos_health" in answer.reason


def test_a_healthy_pos_is_ok() -> None:
    with PluginHost("h", HealthPos()) as host:
        assert host.health_sync() == PosHealth(True)
        assert asyncio.run(host.health()) == PosHealth(True)


def test_an_unhealthy_answer_keeps_the_plugins_reason() -> None:
    with PluginHost("h", HealthPos(PosHealth(False, "SkyBox refused the API token (401)"))) as host:
        assert host.health_sync() == PosHealth(False, "SkyBox refused the API token (401)")


@pytest.mark.parametrize(("answer", "expected"), [
    (ConnectionError("POS at 127.0.0.1:9 refused"), "pos_health raised ConnectionError: POS at 127.0.0.1:9 refused"),
    ({"ok": True}, "pos_health returned dict, expected PosHealth"),
    (PosHealth(None), "pos_health returned ok=None, expected True or False"),
])
def test_a_raising_or_wrong_answer_is_unhealthy_naming_the_hook(answer: Any, expected: str) -> None:
    with PluginHost("h", HealthPos(answer)) as host:
        result = host.health_sync()
    assert result.ok is False and expected in result.reason, result


def test_a_hanging_health_check_is_unhealthy_at_its_budget_and_is_not_started_twice() -> None:
    hang = threading.Event()
    plugin = HealthPos(hang=hang)
    host = PluginHost("slow", plugin, {"pos_health": 0.2})
    try:
        first = host.health_sync()
        host._probe._cached = None  # the cache expired: the hung call must still not be started again
        second = asyncio.run(host.health())
        assert first == second == PosHealth(False, "pos_health: no answer within its 0.2 s budget")
        assert plugin.calls == 1
    finally:
        hang.set()
        host.close()


def test_answers_are_cached_for_the_ttl_then_asked_again() -> None:
    now = [100.0]
    calls: list[int] = []

    def submit() -> Future[Any]:
        calls.append(1)
        future: Future[Any] = Future()
        future.set_result(PosHealth(True))
        return future

    probe = HealthProbe(submit, budget=5.0, ttl=5.0, clock=lambda: now[0])
    assert probe.check_sync().ok and asyncio.run(probe.check()).ok
    assert len(calls) == 1
    now[0] += 5.1
    probe.check_sync()
    assert len(calls) == 2


def test_an_answer_counts_from_the_moment_the_plugin_gives_it_not_when_its_waiter_wakes() -> None:
    """Two listeners, two loops: the call ended on the hook thread, its waiter has not run yet, and a request on
    the other loop arrives. It must take that answer, not ask the POS again (seen as 2 calls in 3 s under load)."""
    pending: list[Future[Any]] = []

    def submit() -> Future[Any]:
        pending.append(Future())
        return pending[-1]

    probe = HealthProbe(submit, budget=5.0, ttl=5.0)
    first, future, _ = probe._start()
    assert first is None and len(pending) == 1
    future.set_result(PosHealth(False, "till offline"))  # answered; nobody has called _finish yet
    assert probe.check_sync() == PosHealth(False, "till offline")
    assert len(pending) == 1


# -- a refusal is not a POS fault ---------------------------------------------------------------

class SoldOutPos(StubPos):
    @hookimpl
    def pos_create_invoice(self, order: Order, customer: Customer | None) -> Invoice:
        raise OutOfStock(order.items[0].remote_id, order.items[0].quantity, 0)


def test_an_out_of_stock_refusal_is_not_recorded_as_a_pos_error() -> None:
    before = health.POS.errors()
    with PluginHost("soldout", SoldOutPos()) as host, pytest.raises(PosError) as refused:
        asyncio.run(host.create_invoice(ORDER, None))
    assert isinstance(refused.value.original, OutOfStock)
    assert health.POS.errors() == before
    assert health.POS.last_ok is not None


def test_a_real_pos_failure_is_still_recorded() -> None:
    class Broken(StubPos):
        @hookimpl
        def pos_create_invoice(self, order: Order, customer: Customer | None) -> Invoice:
            raise ConnectionError("POS database went away")

    with PluginHost("broken", Broken()) as host, pytest.raises(PosError):
        asyncio.run(host.create_invoice(ORDER, None))
    assert "pos_create_invoice: ConnectionError: POS database went away" in health.POS.errors()[0].message


def test_a_startup_over_its_budget_refuses_the_plugin_naming_the_hook() -> None:
    hang = threading.Event()

    class SlowStart(StubPos):
        @hookimpl
        def pos_startup(self) -> None:
            hang.wait(timeout=30)

    try:
        with pytest.raises(PluginStartError, match=r"'slow' failed to start: PosTimeout: pos_startup: no answer "
                                                   r"within its 0.2 s budget"):
            PluginHost("slow", SlowStart(), {"pos_startup": 0.2})
    finally:
        hang.set()


# -- deadlines ----------------------------------------------------------------------------------

class _DeadlineReader(StubPos):
    """Records what ``deadline.time_left()`` says inside each inventory check."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    @hookimpl
    def pos_check_inventory(self, item: Item) -> Any:
        self.seen.append(deadline.time_left())
        return super().pos_check_inventory(item)


def test_a_hook_reads_its_budget_as_the_time_it_has_left() -> None:
    plugin = _DeadlineReader()
    with PluginHost("reader", plugin, {"check_inventory": 7.0}) as host:
        host.call_sync("pos_check_inventory", item=ORDER.items[0])
        assert 6.0 < plugin.seen[-1] <= 7.0


def test_a_caller_with_less_time_hands_the_hook_that_shorter_deadline() -> None:
    plugin = _DeadlineReader()
    with PluginHost("reader", plugin, {"check_inventory": 7.0}) as host:
        asyncio.run(host.check_inventory(ORDER.items[0], budget=1.5))
        assert 0.5 < plugin.seen[-1] <= 1.5


def test_outside_a_hook_call_there_is_no_deadline_and_time_left_answers_the_default() -> None:
    assert deadline.current() is None
    assert deadline.time_left(12.0) == 12.0


# -- an empty file list is no answer ------------------------------------------------------------

def test_an_empty_ticket_file_list_is_refused_naming_the_two_right_answers() -> None:
    from tevo_bridge.pos.host import EMPTY_TICKET_FILES

    class NoFilesYet(StubPos):
        @hookimpl
        def pos_ticket_files(self, order: Order, item: Item) -> list[Any]:
            return []

    with PluginHost("empty", NoFilesYet()) as host, pytest.raises(PosError) as refused:
        asyncio.run(host.ticket_files(ORDER, ORDER.items[0]))
    assert str(refused.value.original) == EMPTY_TICKET_FILES
    assert "return None when the POS has no files" in EMPTY_TICKET_FILES and "raise TicketsNotReady" in EMPTY_TICKET_FILES


# -- the contract suite's lifecycle test ----------------------------------------------------------

def _inventory_groups() -> dict[str, Any]:
    from tevo_bridge.pos.inventory import InventoryRow

    return {"90417": InventoryRow("90417", "E", "V", "2027-01-03T15:25:00Z", "C117", "12", ("1",), 10, Decimal(1))}


def test_the_contract_passes_a_plugin_that_starts_and_stops_cleanly() -> None:
    from tevo_bridge.testing.contract import PosContract

    plugin = LifecyclePos()
    PosContract().test_startup_and_shutdown_run_cleanly_around_the_hooks(plugin, _inventory_groups())
    assert plugin.calls == ["startup", "shutdown"]


def test_the_contract_fails_a_plugin_whose_shutdown_raises_naming_it() -> None:
    from tevo_bridge.testing.contract import PosContract

    class BadClose(StubPos):
        @hookimpl
        def pos_shutdown(self) -> None:
            raise OSError("socket already closed")

    with pytest.raises(AssertionError, match=r"pos_shutdown failed \(or overran its budget\) when the host closed: "
                                             r"\[\{'plugin': 'BadClose', 'error': 'pos_shutdown: OSError: socket"):
        PosContract().test_startup_and_shutdown_run_cleanly_around_the_hooks(BadClose(), _inventory_groups())
