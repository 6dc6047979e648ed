"""Errors of the POS layer: what plugins raise, and what the host raises about plugins.

Four families, because callers handle them differently:
- ``CannotSupply``: a plugin's honest "no" (raised by ``pos_create_invoice``); the order goes to
  review or is rejected, it is not retried.
- ``TicketsNotReady``: a plugin's honest "not yet" (raised by ``pos_ticket_files``): the order is
  accepted and waits in ``awaiting_tickets``, looked at again until the files arrive.
  Its opposite, ``TicketFileUnreadable`` (a file the POS names is missing or unreadable), goes to
  a person at once: only "not yet" waits.
- ``PosCallError``: a hook call went wrong (it raised, or overran its budget); the daemon retries
  or compensates.
- ``PluginLoadError``: the configured plugin cannot be used at all; the daemon refuses to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

__all__ = [
    "CannotSupply",
    "OutOfStock",
    "PluginConfigError",
    "PluginHookError",
    "PluginImportError",
    "PluginLoadError",
    "PluginMissingHooks",
    "PluginNotFound",
    "PluginStartError",
    "PluginVersionError",
    "PosCallError",
    "PosError",
    "PosTimeout",
    "TicketFileUnreadable",
    "TicketsNotReady",
    "UnknownRemoteId",
    "VoidRefused",
]


class CannotSupply(Exception):
    """The POS cannot sell what was asked; nothing was written."""


class OutOfStock(CannotSupply):
    def __init__(self, remote_id: str, requested: int, available: int) -> None:
        super().__init__(f"remote_id {remote_id!r}: {requested} requested, {available} available")
        self.remote_id = remote_id
        self.requested = requested
        self.available = available


class UnknownRemoteId(CannotSupply):
    def __init__(self, remote_id: str) -> None:
        super().__init__(f"remote_id {remote_id!r} is not in the POS")
        self.remote_id = remote_id


class TicketsNotReady(Exception):
    """The POS will have this item's ticket files later (not in hand yet, not uploaded yet): wait, don't fail."""


class TicketFileUnreadable(Exception):
    """The POS names a ticket file this host cannot read (moved, deleted, no permission): unlike
    ``TicketsNotReady`` waiting cannot mend it, so the order goes to a person at once, told which
    file and how to fix it, like a file that is there but not a readable PDF."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"ticket file {path} cannot be read ({reason}). Fix: put the PDF back at that path, "
                         "or correct the POS's row to where it is now.")
        self.path = path
        self.reason = reason


class VoidRefused(Exception):
    """The POS will not void this invoice (raised by ``pos_void_invoice``): retrying cannot change that,
    so the order goes to a person with ``reason``."""

    def __init__(self, invoice_id: str, reason: str) -> None:
        super().__init__(f"invoice {invoice_id!r} cannot be voided: {reason}")
        self.invoice_id = invoice_id
        self.reason = reason


class PosCallError(Exception):
    """A hook call failed; ``hook`` is the hook's name (``pos_hold``…)."""

    def __init__(self, hook: str, message: str) -> None:
        super().__init__(message)
        self.hook = hook


class PosError(PosCallError):
    """The plugin raised. ``original`` is its exception (a ``CannotSupply`` is a refusal, not a fault)."""

    def __init__(self, hook: str, original: BaseException) -> None:
        super().__init__(hook, f"{hook}: {type(original).__name__}: {original}")
        self.original = original


class PosTimeout(PosCallError):
    """The hook overran its budget. It may still finish: ``future`` is the running call, so the
    caller can attach compensation (release a hold that succeeds late)."""

    def __init__(self, hook: str, budget: float, future: Future[Any]) -> None:
        super().__init__(hook, f"{hook}: no answer within its {budget:g} s budget")
        self.budget = budget
        self.future = future


class PluginLoadError(Exception):
    """The configured POS plugin cannot be used; ``plugin`` is its entry-point name."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(message)
        self.plugin = plugin


class PluginNotFound(PluginLoadError):
    def __init__(self, plugin: str, available: Sequence[str]) -> None:
        names = ", ".join(sorted(available)) or "none installed"
        super().__init__(plugin, f"no POS plugin named {plugin!r} (installed: {names})")
        self.available = tuple(sorted(available))


class PluginImportError(PluginLoadError):
    def __init__(self, plugin: str, original: BaseException) -> None:
        super().__init__(plugin, f"POS plugin {plugin!r} failed to import: {type(original).__name__}: {original}")
        self.original = original


class PluginConfigError(PluginLoadError):
    """``problems`` pairs a dotted config key (``plugins.sqlite_pos.database``) with what is wrong."""

    def __init__(self, plugin: str, problems: Sequence[tuple[str, str]]) -> None:
        detail = "; ".join(f"{key}: {problem}" for key, problem in problems)
        super().__init__(plugin, f"invalid configuration for POS plugin {plugin!r}: {detail}")
        self.problems = tuple(problems)


class PluginStartError(PluginLoadError):
    """``__init__`` raised, or the hook named by ``hook`` (``pos_startup``) did."""

    def __init__(self, plugin: str, original: BaseException, hook: str | None = None) -> None:
        where = f"{hook}: " if hook else ""
        super().__init__(plugin, f"POS plugin {plugin!r} failed to start: {where}{type(original).__name__}: {original}")
        self.original = original


class PluginHookError(PluginLoadError):
    """A hook implementation that matches no spec (a misspelt name) or takes unknown arguments."""


class PluginMissingHooks(PluginLoadError):
    def __init__(self, plugin: str, missing: Sequence[str]) -> None:
        super().__init__(plugin, f"POS plugin {plugin!r} lacks required hooks: {', '.join(missing)}")
        self.missing = tuple(missing)


class PluginVersionError(PluginLoadError):
    """The plugin declares only contract versions this tevo-bridge cannot serve (or declares them wrongly)."""
