"""The operator dashboard (docs/dashboard.md): served by the daemon on the admin listener at ``/dashboard``."""

from tevo_bridge.dashboard.app import create_dashboard, mount_dashboard
from tevo_bridge.dashboard.base import PREFIX, DashboardHost

__all__ = ["PREFIX", "DashboardHost", "create_dashboard", "mount_dashboard"]
