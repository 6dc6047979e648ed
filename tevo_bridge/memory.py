"""Give memory that held request bodies back to the operating system (glibc's malloc).

A burst of large bodies (up to ``[server] max_body_bytes`` each, from callers that hold the key) used to
leave the daemon's RSS at its peak for good: glibc raises its mmap threshold each time a large block is
freed, so later large blocks came from the heap, which it rarely shrinks. Fixing the threshold keeps
blocks from 128 kB up in their own mappings, unmapped when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

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


def skip_pydantic_v1_checks() -> None:
    """Keep FastAPI from importing ``pydantic.v1`` (1.7 MiB of the idle daemon) just to refuse its models.

    FastAPI imports it on every route it adds and on a route's first answer, only to ask whether a type
    is a pydantic v1 model, which it then refuses. No such model can exist unless ``pydantic.v1`` was
    imported, so the answer is "no" until then and FastAPI's own check from then on: what FastAPI refuses
    is unchanged. A FastAPI without these functions (a later release dropping its v1 checks) is left alone.
    """
    import fastapi.encoders
    from fastapi._compat import shared

    is_class, is_instance = getattr(shared, "is_pydantic_v1_model_class", None), getattr(
        shared, "is_pydantic_v1_model_instance", None)
    if is_class is None or is_instance is None or getattr(is_class, "skips_v1", False):
        return

    def v1_class(cls: object) -> bool:
        return "pydantic.v1" in sys.modules and is_class(cls)

    def v1_instance(obj: object) -> bool:
        return "pydantic.v1" in sys.modules and is_instance(obj)

    v1_class.skips_v1 = True  # type: ignore[attr-defined]  # marks the patch done, so a second call is a no-op
    shared.is_pydantic_v1_model_class = v1_class  # annotation_is_pydantic_v1 looks it up here at each call
    shared.is_pydantic_v1_model_instance = v1_instance
    if getattr(fastapi.encoders, "is_pydantic_v1_model_instance", None) is is_instance:
        setattr(fastapi.encoders, "is_pydantic_v1_model_instance", v1_instance)  # noqa: B010  # imported by name there
