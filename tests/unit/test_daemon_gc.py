"""The daemon exempts its start-up objects from the cycle collector (a full collection stalled every request)."""

import gc

from tevo_bridge.daemon import settle_gc


def test_settle_gc_freezes_what_exists_at_start_up():
    try:
        settle_gc()
        assert gc.get_freeze_count() > 10_000  # modules, FastAPI, pydantic: far more than a handful
        assert gc.isenabled()  # later objects are still collected
    finally:
        gc.unfreeze()
