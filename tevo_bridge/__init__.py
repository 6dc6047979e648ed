"""tevo-bridge: Ticket Evolution order processing for a seller's point of sale.

Plugin authors need two names from here: ``hookimpl`` to mark their hook
implementations and ``__version__`` to report what they were built against.
"""

import sys

import pluggy

# httpx's package imports its command-line client (rich.progress, rich.syntax, click) whenever rich is
# installed, and typer installs it: about 6 MiB the daemon never uses.  Marking the module absent makes
# httpx fall back to its stub ``httpx.main``; nothing else in httpx uses it.  A no-op if httpx came first.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "absent", the import system's own mark

__version__ = "0.1.0"

PROJECT_NAME = "tevo_bridge"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "__version__", "hookimpl"]
