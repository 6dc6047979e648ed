"""``python -m tevo_bridge.sandbox serve``: the same as ``tevo-bridge sandbox serve``."""

from tevo_bridge.sandbox.cli import sandbox_app

sandbox_app()
