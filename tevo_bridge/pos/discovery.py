"""Finding POS plugins: the entry points of the ``tevo_bridge`` group, each loaded on its own.

A plugin that fails to import is reported, never raised, here: one broken package in the
seller's environment must not take down ``tevo-bridge plugins`` or a daemon that uses another
plugin (conda's plugin manager does the same).
"""

from __future__ import annotations

import difflib
import sys
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
    PluginVersionError,
)
from tevo_bridge.pos.hookspecs import (
    ALL_HOOKS,
    CONTRACT_ATTRIBUTE,
    CONTRACT_VERSION,
    REQUIRED_HOOKS,
    SUPPORTED_CONTRACTS,
)

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "checked_manager", "contract_versions", "discover_plugins",
           "implemented_hooks", "load_plugin_class"]

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


def contract_versions(name: str, plugin: object) -> tuple[int, ...]:
    """The contract major versions ``plugin`` declares (class attribute first, then its module's); ``(1,)`` if none.

    Version 1 had no declaration, so silence means a plugin written before there was one.
    """
    declared = getattr(plugin, CONTRACT_ATTRIBUTE, None)
    if declared is None:
        module = sys.modules.get(getattr(plugin, "__module__", "") or "")
        declared = getattr(module, CONTRACT_ATTRIBUTE, None)
    if declared is None:
        return (1,)
    if isinstance(declared, int) and not isinstance(declared, bool):
        declared = (declared,)
    if not (isinstance(declared, tuple | list) and declared
            and all(isinstance(v, int) and not isinstance(v, bool) for v in declared)):
        raise PluginVersionError(name, f"POS plugin {name!r}: {CONTRACT_ATTRIBUTE} must be a tuple of contract "
                                       f"major versions such as ({CONTRACT_VERSION},), got {declared!r}")
    return tuple(declared)


def _check_contract(name: str, plugin: object) -> None:
    declared = contract_versions(name, plugin)
    if not set(declared) & set(SUPPORTED_CONTRACTS):
        built = ", ".join(map(str, declared))
        supported = ", ".join(map(str, SUPPORTED_CONTRACTS))
        raise PluginVersionError(
            name, f"POS plugin {name!r} is built for POS contract version {built}; this tevo-bridge implements "
                  f"version {CONTRACT_VERSION} (and loads plugins built for {supported}). Install a release of "
                  f"the plugin built for version {CONTRACT_VERSION}, or a tevo-bridge that supports {built}.")


def _check_spelling(name: str, plugin: object) -> None:
    """Refuse a hook implementation whose name is no hook's, suggesting the nearest one.

    An error rather than a warning: pluggy would refuse it anyway (``check_pending``), and a misspelt
    optional hook (``pos_helth``) would otherwise leave it silently never called.
    """
    for hook in implemented_hooks(plugin):
        if hook in ALL_HOOKS:
            continue
        close = difflib.get_close_matches(hook, ALL_HOOKS, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else f"; the hooks are {', '.join(ALL_HOOKS)}"
        raise PluginHookError(name, f"POS plugin {name!r}: {hook} is not a POS hook{hint}")


def checked_manager(name: str, plugin: object) -> pluggy.PluginManager:
    """A plugin manager holding ``plugin`` (a class or an instance), once its hooks are proven usable.

    The one hook check, shared by ``tevo-bridge plugins``, ``check`` and the daemon's start, so the
    three can never disagree: pluggy's own registration refuses an argument name no spec has, and
    ``check_pending`` a misspelt hook (``pos_hodl``), which would otherwise be silently ignored.
    Raises ``PluginVersionError`` (built for another contract), ``PluginHookError`` (with "did you mean"
    for a misspelt hook), or ``PluginMissingHooks`` naming every required hook it lacks.
    """
    _check_contract(name, plugin)
    _check_spelling(name, plugin)
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
