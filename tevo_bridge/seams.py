"""What each part needs of the daemon's ``Runtime``, as narrow Protocols.

The intake routes, the worker, the poller and ``/metrics`` are handed the runtime; typing them with
the daemon's class would import it from below (the daemon imports all of them), and typing them
``Any`` let a misspelt attribute through to production.  Each part names here only what it uses,
so the type checker proves ``Runtime`` provides it, and a test can hand a part a small stand-in.
Members are read-only properties: a part reads the runtime, it never rebinds its attributes, and a
property accepts a more specific type in the runtime (``PluginHost`` for ``SeamPos``).

This module imports nothing above it (config, store, TEvo client, POS types, the refusal log); the
base of them all, ``StoreRuntime``, is ``metrics``'s own, since the TEvo client and the POS host count into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tevo_bridge.intake.refusals import RefusalLog
from tevo_bridge.metrics import StoreRuntime
from tevo_bridge.pos.errors import PosTimeout
from tevo_bridge.pos.types import Hold, HoldResult, PosHealth
from tevo_bridge.tevo.client import TevoClient


class SeamPos(Protocol):
    """The POS calls intake and the worker make themselves (the pipeline's are ``PipelinePos``)."""

    async def hold(self, hold: Hold, *, budget: float | None = None, intake: bool = False) -> HoldResult: ...

    async def release_hold(self, hold: Hold, *, budget: float | None = None) -> bool: ...


class HealthPos(Protocol):
    """What /readyz asks of the POS: ``pos_health``'s answer, budgeted and cached by the host."""

    async def health(self) -> PosHealth: ...


class BudgetedPos(HealthPos, Protocol):
    """What the dashboard shows of the plugin: its health and the budget of each hook."""

    @property
    def budgets(self) -> Mapping[str, float]: ...


class AppPos(SeamPos, BudgetedPos, Protocol):
    """The POS as the ASGI apps use it: holds and releases, and its health for /readyz."""


class Ticking(Protocol):
    """The worker as /readyz sees it."""

    @property
    def last_tick(self) -> float: ...


class WebhookRuntime(StoreRuntime, Protocol):
    """The webhook route: record the event, wake a worker, log refusals."""

    @property
    def refusals(self) -> RefusalLog: ...

    def wake(self, jobs: int | None = None) -> None: ...


class OrderIntegrationRuntime(WebhookRuntime, Protocol):
    """Holds, releases and invoices: the POS directly (a hold answers within its budget) and TEvo."""

    @property
    def pos(self) -> SeamPos: ...

    @property
    def tevo(self) -> TevoClient: ...

    def note_pos_trouble(self, message: str) -> None: ...

    def release_when_done(self, timeout: PosTimeout, global_id: str) -> None: ...


class HealthRuntime(StoreRuntime, Protocol):
    """/readyz: the store writable, the plugin healthy, the worker ticking."""

    @property
    def pos(self) -> HealthPos | None: ...

    @property
    def worker(self) -> Ticking | None: ...

    def pos_trouble(self) -> str | None: ...


class AppRuntime(OrderIntegrationRuntime, HealthRuntime, Protocol):
    """Everything the ASGI apps serve from, the dashboard included (``DashboardHost``)."""

    @property
    def pos(self) -> AppPos: ...


class PollerRuntime(StoreRuntime, Protocol):
    """The poller: TEvo's order lists into the store, under a lease on a shared store."""

    @property
    def tevo(self) -> TevoClient: ...

    @property
    def replica_id(self) -> str: ...

    def wake(self, jobs: int | None = None) -> None: ...


class WorkerRuntime(StoreRuntime, Protocol):
    """The job worker: claims jobs, releases holds in the POS, lists order groups on TEvo."""

    @property
    def pos(self) -> SeamPos: ...

    @property
    def tevo(self) -> TevoClient: ...

    def wake(self, jobs: int | None = None) -> None: ...

    def note_pos_trouble(self, message: str) -> None: ...
