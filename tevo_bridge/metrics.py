"""Prometheus metrics, defined once so every module counts into the same series."""

from prometheus_client import Counter, Gauge, Histogram

TEVO_CALLS = Counter("tevo_bridge_tevo_calls_total", "TEvo API calls by endpoint and outcome", ["endpoint", "outcome"])
INBOUND = Counter("tevo_bridge_inbound_total", "Inbound requests by channel and outcome", ["channel", "outcome"])
HOLD_LATENCY = Histogram(
    "tevo_bridge_hold_seconds",
    "Order Integration hold answer time",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3.5, 5),
)
POS_LATENCY = Histogram("tevo_bridge_pos_call_seconds", "POS hook call time", ["hook", "outcome"])
JOBS = Gauge("tevo_bridge_jobs", "Jobs by state", ["state"])
ORDERS = Gauge("tevo_bridge_orders", "Orders by state", ["state"])
