"""PluginHost: the one place that builds the active POS plugin and calls its hooks.

Nothing else in tevo-bridge touches ``pm.hook``. The host validates the plugin's config with the
plugin's own model, refuses a plugin that lacks a required hook, and offers one typed async method
per hook. Each call runs the synchronous hook in a worker thread under a time budget, because a
POS is a remote system that can hang and the asyncio loop must never block on it.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType, NoneType
from typing import Any, cast

import pluggy
import pydantic
import structlog

from tevo_bridge import health
from tevo_bridge.metrics import POS_LATENCY, child
from tevo_bridge.paths import CONTEXT_KEY
from tevo_bridge.pos.batches import HoldBatches
from tevo_bridge.pos.deadline import call_by
from tevo_bridge.pos.discovery import (
    PluginInfo,
    checked_manager,
    discover_plugins,
    implemented_hooks,
    load_plugin_class,
)
from tevo_bridge.pos.errors import (
    CannotSupply,
    PluginConfigError,
    PluginHookError,
    PluginLoadError,
    PluginStartError,
    PosCallError,
    PosError,
    PosTimeout,
    TicketsNotReady,
    VoidRefused,
)
from tevo_bridge.pos.handback import settled
from tevo_bridge.pos.hookspecs import ALL_HOOKS, DEFAULT_BUDGETS, hook_name
from tevo_bridge.pos.probe import HealthProbe
from tevo_bridge.pos.types import (
    Availability,
    Buyer,
    Customer,
    Hold,
    HoldResult,
    Invoice,
    Item,
    MobileTransfer,
    Order,
    OrderEvent,
    PosHealth,
    PriceDecision,
    StockListing,
    TicketFile,
)
from tevo_bridge.pos.workers import WorkerPool

__all__ = ["DEFAULT_POOL_SIZE", "EMPTY_TICKET_FILES", "INTAKE_POOL_SIZE", "PluginHost", "PluginInfo", "discover_plugins", "plugin_config", "pool_size_for", "resolve_budgets"]

log = structlog.get_logger(__name__)

#: Enough threads that a few hung POS calls leave room for the rest; few enough to be cheap.
DEFAULT_POOL_SIZE = 16
#: The Order Integration holds' own threads (``hold(..., intake=True)``), apart from the workers' hooks: a hold
#: TEvo waits on (``[server] hold_budget``, 2 s) never queues behind however many jobs' hooks are running, or
#: hung. 16: the concurrency the intake is measured at, and what holds had when they shared the one pool.
INTAKE_POOL_SIZE = 16


def pool_size_for(workers: int) -> int:
    """Hook threads for ``workers`` jobs: two each, as a job asks the POS for stock and deliverability at once
    (and tells listeners of its transitions meanwhile); never fewer than the default's 16."""
    return max(DEFAULT_POOL_SIZE, 2 * workers)

# What each hook may return. A plugin returning the wrong thing is a plugin bug, reported as a
# PosError at the call rather than as an AttributeError somewhere deep in the pipeline.
_RESULT_TYPES: Mapping[str, tuple[type, ...]] = {
    "pos_check_inventory": (Availability,),
    "pos_accept_price": (PriceDecision,),
    "pos_find_customer": (Customer, NoneType),
    "pos_create_customer": (Customer,),
    "pos_hold": (HoldResult,),
    "pos_hold_many": (list,),
    "pos_release_hold": (bool,),
    "pos_create_invoice": (Invoice,),
    "pos_ticket_files": (list, NoneType),
    "pos_mobile_transfer": (MobileTransfer, NoneType),
    "pos_order_event": (list,),  # not firstresult: pluggy's list of every implementation's None
    "pos_health": (PosHealth,),
    "pos_startup": (NoneType,),
    "pos_shutdown": (NoneType,),
    "pos_void_invoice": (NoneType,),
    "pos_list_stock": (list,),
}
#: Why the host refuses ``[]`` from ``pos_ticket_files`` (contract 2): the two answers the plugin meant.
EMPTY_TICKET_FILES = ("pos_ticket_files returned an empty list: return None when the POS has no files for the item, "
                      "or raise TicketsNotReady when they will come later")
#: What the host says when the plugin has no ``pos_health``: unknown, which is not failing.
NO_HEALTH_HOOK = PosHealth(None, "the plugin has no pos_health hook")


def resolve_budgets(overrides: Mapping[str, float] | None) -> Mapping[str, float]:
    """The default budgets with ``overrides`` applied; keys may omit the ``pos_`` prefix."""
    budgets = dict(DEFAULT_BUDGETS)
    for key, seconds in (overrides or {}).items():
        hook = hook_name(key)
        if hook not in budgets:
            raise ValueError(f"unknown hook {key!r} in POS budgets (known: {', '.join(sorted(budgets))})")
        if not seconds > 0:
            raise ValueError(f"the budget of {hook} must be a positive number of seconds, got {seconds!r}")
        budgets[hook] = float(seconds)
    return MappingProxyType(budgets)


def _check_hold_answers(answers: list[Any], holds: int) -> None:
    """``pos_hold_many``: one ``HoldResult`` or ``Exception`` per hold, else the whole batch is a plugin bug."""
    if len(answers) != holds:
        raise TypeError(f"pos_hold_many returned {len(answers)} answers for {holds} holds")
    wrong = sorted({type(a).__name__ for a in answers if not isinstance(a, HoldResult | Exception)})
    if wrong:
        raise TypeError(f"pos_hold_many returned {', '.join(wrong)} in its list, expected HoldResult or an Exception")


def _check_result(hook: str, result: Any) -> Any:
    expected = _RESULT_TYPES[hook]
    if not isinstance(result, expected):
        names = " or ".join("None" if t is NoneType else t.__name__ for t in expected)
        raise TypeError(f"{hook} returned {type(result).__name__}, expected {names}")
    if hook == "pos_ticket_files" and result == []:
        # "No files" is None and "not yet" is TicketsNotReady: an empty list would leave an accepted order
        # with nothing to deliver and no one told, so it is refused where the plugin answered it.
        raise TypeError(EMPTY_TICKET_FILES)
    if hook == "pos_ticket_files" and isinstance(result, list):
        wrong = [type(f).__name__ for f in result if not isinstance(f, TicketFile)]
        if wrong:
            raise TypeError(f"pos_ticket_files returned a list holding {', '.join(wrong)}, expected TicketFile")
    if hook == "pos_list_stock":
        wrong = [type(f).__name__ for f in result if not isinstance(f, StockListing)]
        if wrong:
            raise TypeError(f"pos_list_stock returned a list holding {', '.join(wrong)}, expected StockListing")
    return result


def _config_problems(name: str, error: pydantic.ValidationError) -> list[tuple[str, str]]:
    return [(".".join(["plugins", name, *map(str, e["loc"])]), e["msg"]) for e in error.errors()]


def plugin_config(name: str, plugin_class: type, config: Mapping[str, Any], base_dir: Path | None = None
                  ) -> pydantic.BaseModel:
    """The plugin's ``[plugins.<name>]`` table validated by its ``Config`` model, or a ``PluginLoadError``.

    ``base_dir`` (the config file's folder) is where the plugin's ``tevo_bridge.paths`` settings
    resolve relative paths: the same rule as the core's paths, whatever the working directory.
    """
    model = getattr(plugin_class, "Config", None)
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        raise PluginLoadError(name, f"POS plugin {name!r} has no pydantic Config model")
    try:
        return model.model_validate(dict(config), context={CONTEXT_KEY: base_dir})
    except pydantic.ValidationError as exc:
        raise PluginConfigError(name, _config_problems(name, exc)) from exc


class PluginHost:
    """The active POS plugin behind typed methods, each call in a thread under its budget."""

    def __init__(
        self,
        name: str,
        plugin: object,
        budgets: Mapping[str, float] | None = None,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        """Register an already-built ``plugin``; prefer ``load``, which also builds it from config.

        Raises ``PluginHookError`` for a hook that matches no spec or takes unknown arguments,
        ``PluginMissingHooks`` naming every required hook the plugin lacks, ``PluginVersionError`` for a
        plugin built for another contract, and ``PluginStartError`` if its ``pos_startup`` fails.
        """
        self.name = name
        self.plugin = plugin
        self.budgets = resolve_budgets(budgets)
        self._pm = checked_manager(name, plugin)
        self._pool = WorkerPool(pool_size, name=f"pos-{name}")
        self._intake = WorkerPool(INTAKE_POOL_SIZE, name=f"pos-{name}-intake")  # threads start at the first hold
        self._batches = HoldBatches(self._place_holds, self._intake) if self.has_hook("pos_hold_many") else None
        self._probe = HealthProbe(lambda: self._submit("pos_health", {}), self.budgets["pos_health"])
        self._closed = False
        self._startup()

    def _startup(self) -> None:
        if not self.has_hook("pos_startup"):
            return
        try:
            self.call_sync("pos_startup")
        except PosError as exc:
            self._close_pools()
            raise PluginStartError(self.name, exc.original, "pos_startup") from exc
        except PosTimeout as exc:
            self._close_pools()
            raise PluginStartError(self.name, exc) from exc

    @classmethod
    def load(cls, name: str, config: Mapping[str, Any], budgets: Mapping[str, float] | None = None,
             *, base_dir: Path | None = None, pool_size: int = DEFAULT_POOL_SIZE) -> PluginHost:
        """Build the plugin installed under entry point ``name`` from its ``[plugins.<name>]`` table.

        Relative path settings in the table resolve against ``base_dir`` (``Settings.config_dir``).

        Raises a ``PluginLoadError``: ``PluginNotFound`` (listing the installed names),
        ``PluginImportError``, ``PluginConfigError`` (naming each bad key), ``PluginStartError``
        (the plugin's ``__init__`` raised), ``PluginHookError`` or ``PluginMissingHooks``.
        ``pool_size``: the workers' hook threads (``pool_size_for``).
        """
        plugin_class = load_plugin_class(name)
        settings = plugin_config(name, plugin_class, config, base_dir)
        try:
            plugin = plugin_class(settings)
        except Exception as exc:
            raise PluginStartError(name, exc) from exc
        return cls(name, plugin, budgets, pool_size=pool_size)

    def add_listener(self, listener: object, name: str | None = None) -> None:
        """Register one more ``pos_order_event`` implementation (a chat notifier, a metrics feed).

        A listener implements nothing else: the POS hooks are ``firstresult``, and a second
        implementation would silently answer for the active POS.
        """
        others = [h for h in implemented_hooks(listener) if h != "pos_order_event"]
        if others:
            raise ValueError(f"a listener may implement only pos_order_event, not {', '.join(others)}")
        try:
            self._pm.register(listener, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginHookError(name or type(listener).__name__, str(exc)) from exc

    def ticket_dirs(self) -> list[Path]:
        """The folder the plugin keeps its ticket PDFs in, if it declares one (``ticket_dir``)."""
        declared = getattr(self.plugin, "ticket_dir", None)
        return [Path(declared)] if declared else []

    def has_hook(self, hook: str) -> bool:
        """Whether the plugin implements ``hook`` (``pos_`` prefix optional)."""
        hook = hook_name(hook)
        if hook not in ALL_HOOKS:
            raise ValueError(f"unknown POS hook {hook!r}")
        return bool(getattr(self._pm.hook, hook).get_hookimpls())

    # -- calling -------------------------------------------------------------------------------

    def _invoke(self, hook: str, kwargs: dict[str, Any]) -> Any:
        result = _check_result(hook, getattr(self._pm.hook, hook)(**kwargs))
        if hook == "pos_hold_many":
            _check_hold_answers(result, len(kwargs["holds"]))
        return result

    def _place_holds(self, holds: Sequence[Hold], deadline: float) -> list[HoldResult | Exception]:
        """A batch of Order Integration holds (``HoldBatches``), by the earliest deadline among them."""
        deadline = min(deadline, time.monotonic() + self.budgets["pos_hold_many"])
        return cast("list[HoldResult | Exception]", call_by(deadline, self._invoke, "pos_hold_many", {"holds": list(holds)}))

    def _submit(self, hook: str, kwargs: dict[str, Any], limit: float | None = None, *, intake: bool = False,
                ) -> concurrent.futures.Future[Any]:
        """Queue ``hook``; its deadline (``tevo_bridge.pos.deadline``) counts from now, queueing included."""
        deadline = time.monotonic() + (self.budgets[hook] if limit is None else limit)
        return (self._intake if intake else self._pool).submit(call_by, deadline, self._invoke, hook, kwargs)

    def _timeout(self, hook: str, future: concurrent.futures.Future[Any], budget: float | None = None) -> PosTimeout:
        # A call still queued behind hung ones never starts: cancel it, so nothing is left to compensate.
        future.cancel()
        budget = self.budgets[hook] if budget is None else budget
        log.warning("pos_hook_timeout", plugin=self.name, hook=hook, budget=budget)
        return PosTimeout(hook, budget, future)

    def call_sync(self, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` from plain synchronous code (the CLI, tests) with the same budget and errors."""
        future = self._submit(hook, kwargs)
        # Wait, then look: `future.result(timeout)` would confuse a plugin's own TimeoutError
        # (a POS API that timed out) with this budget running out.
        done, _ = concurrent.futures.wait([future], timeout=self.budgets[hook])
        if not done:
            raise self._timeout(hook, future)
        try:
            return future.result()
        except Exception as exc:
            raise PosError(hook, exc) from exc

    # Hook results are untyped (pluggy); each typed method below names what its hook returns by the contract
    # (docs/plugins.md), which the contract suite (tevo_bridge.testing.PosContract) checks of every plugin.
    async def _call(self, hook: str, budget: float | None = None, *, intake: bool = False, **kwargs: Any) -> Any:
        """Run a hook under its budget, or under ``budget`` when the caller has less time left (an OI hold);
        ``intake``: on the intake's own threads (``INTAKE_POOL_SIZE``)."""
        limit = self._limit(hook, budget)
        return await self._outcome(hook, self._submit(hook, kwargs, limit, intake=intake), limit)

    def _limit(self, hook: str, budget: float | None) -> float:
        """The hook's budget, or the caller's when it has less time left."""
        return self.budgets[hook] if budget is None else min(budget, self.budgets[hook])

    async def _outcome(self, hook: str, future: concurrent.futures.Future[Any], limit: float) -> Any:
        """The call's result once ``future`` is done, if within ``limit`` seconds."""
        started = time.monotonic()
        if not await settled(future, limit):
            child(POS_LATENCY, hook, "timeout").observe(time.monotonic() - started)
            health.POS.failed(f"{hook}: no answer within {limit:g}s")
            raise self._timeout(hook, future, limit)
        try:
            result = future.result()
        except Exception as exc:
            child(POS_LATENCY, hook, "error").observe(time.monotonic() - started)
            if isinstance(exc, CannotSupply | TicketsNotReady | VoidRefused):
                health.POS.ok()  # an honest "cannot supply" or "not yet": the POS answered, it is not at fault
            else:
                health.POS.failed(f"{hook}: {type(exc).__name__}: {exc}")
            raise PosError(hook, exc) from exc
        child(POS_LATENCY, hook, "ok").observe(time.monotonic() - started)
        health.POS.ok()
        return result

    async def check_inventory(self, item: Item, *, budget: float | None = None) -> Availability:
        return cast(Availability, await self._call("pos_check_inventory", budget, item=item))

    async def accept_price(self, item: Item, *, budget: float | None = None) -> PriceDecision:
        return cast(PriceDecision, await self._call("pos_accept_price", budget, item=item))

    async def find_customer(self, buyer: Buyer, *, budget: float | None = None) -> Customer | None:
        return cast("Customer | None", await self._call("pos_find_customer", budget, buyer=buyer))

    async def create_customer(self, buyer: Buyer, *, budget: float | None = None) -> Customer:
        return cast(Customer, await self._call("pos_create_customer", budget, buyer=buyer))

    async def hold(self, hold: Hold, *, budget: float | None = None, intake: bool = False) -> HoldResult:
        """``intake``: TEvo is waiting for this answer (an Order Integration hold), so it runs on threads of its own,
        in a batch with the holds queued beside it when the plugin has ``pos_hold_many``."""
        if intake and self._batches is not None:
            return await self._hold_in_batch(hold, budget)
        return cast(HoldResult, await self._call("pos_hold", budget, intake=intake, hold=hold))

    async def _hold_in_batch(self, hold: Hold, budget: float | None) -> HoldResult:
        assert self._batches is not None
        limit = self._limit("pos_hold", budget)
        try:
            return cast(HoldResult, await self._outcome("pos_hold", self._batches.add(hold, time.monotonic() + limit),
                                                        limit))
        except PosTimeout:
            self._batches.revive()  # the batch ahead may be hung: the holds queued behind this one no longer wait for it
            raise

    async def release_hold(self, hold: Hold, *, budget: float | None = None) -> bool:
        return cast(bool, await self._call("pos_release_hold", budget, hold=hold))

    async def create_invoice(self, order: Order, customer: Customer | None, *, budget: float | None = None) -> Invoice:
        return cast(Invoice, await self._call("pos_create_invoice", budget, order=order, customer=customer))

    async def ticket_files(self, order: Order, item: Item, *, budget: float | None = None) -> list[TicketFile] | None:
        return cast("list[TicketFile] | None", await self._call("pos_ticket_files", budget, order=order, item=item))

    async def mobile_transfer(self, order: Order, item: Item, *, budget: float | None = None) -> MobileTransfer | None:
        return cast("MobileTransfer | None", await self._call("pos_mobile_transfer", budget, order=order, item=item))

    async def void_invoice(self, order: Order, invoice_id: str, reason: str, *, budget: float | None = None) -> None:
        await self._call("pos_void_invoice", budget, order=order, invoice_id=invoice_id, reason=reason)

    def list_stock_sync(self) -> list[StockListing]:
        """``pos_list_stock``'s answer, for the command that turns it into sandbox listings (not the daemon)."""
        return cast("list[StockListing]", self.call_sync("pos_list_stock"))

    async def health(self) -> PosHealth:
        """``pos_health``'s answer under its budget, cached a few seconds (``HealthProbe``); ``ok=None`` without the hook."""
        if not self.has_hook("pos_health"):
            return NO_HEALTH_HOOK
        return await self._probe.check()

    def health_sync(self) -> PosHealth:
        """``health`` for synchronous code (``tevo-bridge check --online``)."""
        if not self.has_hook("pos_health"):
            return NO_HEALTH_HOOK
        return self._probe.check_sync()

    async def notify(self, event: OrderEvent) -> None:
        """Tell every ``pos_order_event`` implementation; failures and overruns are logged, not raised."""
        future = self._pool.submit(self._fan_out, event)
        if not await settled(future, self.budgets["pos_order_event"]):
            self._timeout("pos_order_event", future)

    def _fan_out(self, event: OrderEvent) -> None:
        # pluggy stops a hook call at the first exception; call each implementation on its own so
        # one failing listener cannot silence the others.
        for impl in self._pm.hook.pos_order_event.get_hookimpls():
            call: Callable[..., Any] = impl.function
            try:
                call(*[{"event": event}[arg] for arg in impl.argnames])
            except Exception:
                log.exception("pos_order_event_failed", plugin=impl.plugin_name, order_id=event.order_id)

    def close(self) -> None:
        """Run ``pos_shutdown`` once, then stop the worker threads; a call still hung is abandoned, not awaited."""
        if self._closed:
            return
        self._closed = True
        if self.has_hook("pos_shutdown"):
            try:
                self.call_sync("pos_shutdown")
            except PosCallError as exc:  # stopping anyway: say so, and let the rest of the shutdown run
                log.warning("pos_shutdown_failed", plugin=self.name, error=str(exc))
        self._close_pools()

    def _close_pools(self) -> None:
        self._pool.close()
        self._intake.close()

    def __enter__(self) -> PluginHost:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
