"""``metrics.child``: a labelled series looked up once, the same one ``labels()`` gives, still created on first use."""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from tevo_bridge.metrics import child


def test_child_is_the_series_labels_gives_and_is_created_only_when_first_used():
    registry = CollectorRegistry()
    calls = Counter("t_calls_total", "calls", ["channel", "outcome"], registry=registry)
    assert b'channel="oi"' not in generate_latest(registry)  # nothing exported before the first use
    first = child(calls, "oi", "recorded")
    assert first is calls.labels("oi", "recorded") and child(calls, "oi", "recorded") is first
    first.inc()
    child(calls, "oi", "recorded").inc()
    child(calls, "oi", "duplicate").inc()
    assert registry.get_sample_value("t_calls_total", {"channel": "oi", "outcome": "recorded"}) == 2
    assert registry.get_sample_value("t_calls_total", {"channel": "oi", "outcome": "duplicate"}) == 1


def test_metrics_with_the_same_label_values_keep_their_own_children():
    registry = CollectorRegistry()
    held = Counter("t_held_total", "held", ["outcome"], registry=registry)
    latency = Histogram("t_seconds", "latency", ["outcome"], registry=registry)
    child(held, "ok").inc()
    child(latency, "ok").observe(0.25)
    assert registry.get_sample_value("t_held_total", {"outcome": "ok"}) == 1
    assert registry.get_sample_value("t_seconds_count", {"outcome": "ok"}) == 1
    assert registry.get_sample_value("t_seconds_sum", {"outcome": "ok"}) == 0.25
