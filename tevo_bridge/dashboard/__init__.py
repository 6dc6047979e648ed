"""The operator dashboard (docs/dashboard.md): served by the daemon on the admin listener at ``/dashboard``."""

from tevo_bridge.dashboard.app import DashboardHost, create_dashboard
from tevo_bridge.dashboard.pages import PREFIX

__all__ = ["PREFIX", "DashboardHost", "create_dashboard"]
