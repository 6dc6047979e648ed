"""tevo-bridge: Ticket Evolution order processing for a seller's point of sale.

Plugin authors need two names from here: ``hookimpl`` to mark their hook
implementations and ``__version__`` to report what they were built against.
"""

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "tevo_bridge"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "__version__", "hookimpl"]
