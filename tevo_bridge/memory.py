"""Give memory that held request bodies back to the operating system (glibc's malloc).

A burst of large bodies (up to ``[server] max_body_bytes`` each, from callers that hold the key) used to
leave the daemon's RSS at its peak for good: glibc raises its mmap threshold each time a large block is
freed, so later large blocks came from the heap, which it rarely shrinks. Fixing the threshold keeps
blocks from 128 kB up in their own mappings, unmapped when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

from tevo_bridge.log import get_logger

log = get_logger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD = 128 * 1024  # glibc's initial default, kept fixed


def return_freed_memory() -> None:
    """Fix glibc's mmap and trim thresholds; nothing to do (or possible) on other C libraries."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return
    for option in (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD):
        if mallopt(option, THRESHOLD) != 1:
            log.info("memory.mallopt_refused", option=option)
