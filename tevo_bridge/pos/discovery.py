"""Finding POS plugins: the entry points of the ``tevo_bridge`` group, each loaded on its own.

A plugin that fails to import is reported, never raised, here: one broken package in the
seller's environment must not take down ``tevo-bridge plugins`` or a daemon that uses another
plugin (conda's plugin manager does the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

import pluggy

from tevo_bridge import PROJECT_NAME
from tevo_bridge.pos import hookspecs
from tevo_bridge.pos.errors import (
    PluginHookError,
    PluginImportError,
    PluginLoadError,
    PluginMissingHooks,
    PluginNotFound,
)
from tevo_bridge.pos.hookspecs import REQUIRED_HOOKS

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "checked_manager", "discover_plugins", "implemented_hooks",
           "load_plugin_class"]

ENTRY_POINT_GROUP = PROJECT_NAME


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One installed plugin as ``tevo-bridge plugins`` shows it."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    status: Literal["ok", "broken"]
    error: str | None = None


def _entry_points() -> list[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def implemented_hooks(plugin: Any) -> tuple[str, ...]:
    """The hook names a plugin class or instance implements, as pluggy will see them."""
    # pluggy's own parser, so that ``@hookimpl(specname=...)`` counts under the spec's name.
    parser = pluggy.PluginManager(PROJECT_NAME)
    found = []
    for attr in dir(plugin):
        opts = parser.parse_hookimpl_opts(plugin, attr)
        if opts is not None:
            found.append(opts.get("specname") or attr)
    return tuple(sorted(found))


def load_plugin_class(name: str) -> type:
    """Import the plugin named ``name``; ``PluginNotFound`` lists the installed names."""
    eps = _entry_points()
    matches = [ep for ep in eps if ep.name == name]
    if not matches:
        raise PluginNotFound(name, [ep.name for ep in eps])
    try:
        plugin: type = matches[0].load()  # an entry point of the group names the plugin class
        return plugin
    except Exception as exc:  # an import can fail in any way at all; report it, don't guess
        raise PluginImportError(name, exc) from exc


def checked_manager(name: str, plugin: object) -> pluggy.PluginManager:
    """A plugin manager holding ``plugin`` (a class or an instance), once its hooks are proven usable.

    The one hook check, shared by ``tevo-bridge plugins``, ``check`` and the daemon's start, so the
    three can never disagree: pluggy's own registration refuses an argument name no spec has, and
    ``check_pending`` a misspelt hook (``pos_hodl``), which would otherwise be silently ignored.
    Raises ``PluginHookError``, or ``PluginMissingHooks`` naming every required hook it lacks.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(plugin, name=name)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginHookError(name, f"POS plugin {name!r}: {exc}") from exc
    missing = [h for h in REQUIRED_HOOKS if not getattr(pm.hook, h).get_hookimpls()]
    if missing:
        raise PluginMissingHooks(name, missing)
    return pm


def _problem(name: str, plugin: Any) -> str | None:
    if not isinstance(plugin, type):
        return f"entry point names {type(plugin).__name__} {plugin!r}, not a plugin class"
    try:
        checked_manager(name, plugin)
    except PluginLoadError as exc:
        return str(exc)
    return None


def discover_plugins() -> list[PluginInfo]:
    """Every installed plugin with its hooks, ``broken`` (and why) when it cannot be used."""
    infos = []
    for ep in _entry_points():
        dist = ep.dist.name if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else None
        try:
            plugin = ep.load()
        except Exception as exc:
            infos.append(PluginInfo(ep.name, dist, version, (), "broken", f"{type(exc).__name__}: {exc}"))
            continue
        hooks = implemented_hooks(plugin)
        problem = _problem(ep.name, plugin)
        infos.append(PluginInfo(ep.name, dist, version, hooks, "broken" if problem else "ok", problem))
    return infos
