"""The operator dashboard (docs/dashboard.md): served by the daemon on the admin listener at ``/dashboard``.

Its names are loaded on first use (PEP 562): ``tevo-bridge run`` without ``[server] admin_port``, and
commands that only need ``dashboard.auth`` or ``dashboard.cli``, never load the pages, Jinja2 or htmx.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tevo_bridge.dashboard.app import create_dashboard, mount_dashboard
    from tevo_bridge.dashboard.base import PREFIX, DashboardHost

__all__ = ["PREFIX", "DashboardHost", "create_dashboard", "mount_dashboard"]

_HOME = {"PREFIX": "base", "DashboardHost": "base", "create_dashboard": "app", "mount_dashboard": "app"}


def __getattr__(name: str) -> object:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
