"""The drain figure compares orders with orders: drained per second against announced per second."""

from benchmarks.drain import figures

RAW = {"orders_created": 1000, "scenario_calls": 1104, "create_seconds": 12.5, "drain_seconds": 13.0,
       "unsettled": 0, "unexpected_count": 0, "unexpected_outcomes": [], "missing_orders": 0,
       "rss_idle_mb": 60.0, "rss_after_mb": 90.0}


def test_the_ratio_is_the_time_to_announce_every_order_over_the_time_to_settle_them() -> None:
    drained = figures(RAW)[0]
    assert drained.value == 1000 / 13.0 and drained.baseline == 1000 / 12.5
    assert drained.ratio is not None and round(drained.ratio, 6) == round(12.5 / 13.0, 6)
    assert drained.met is True  # 0.96x: the daemon settled the last order half a second after it was announced


def test_the_oi_checkouts_that_make_no_order_do_not_count_as_announced_orders() -> None:
    # With the 104 order-less checkouts counted as announced orders, every ratio came out 0.906x of itself: a
    # daemon that settled its orders at 0.95x the rate they were announced was called 0.86x, missed.
    kept_up = figures({**RAW, "drain_seconds": RAW["create_seconds"] / 0.95})[0]
    assert kept_up.ratio is not None and round(kept_up.ratio, 6) == 0.95 and kept_up.met is True
    behind = figures({**RAW, "drain_seconds": RAW["create_seconds"] / 0.85})[0]
    assert behind.met is False
