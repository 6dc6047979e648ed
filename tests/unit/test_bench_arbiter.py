"""The arbiter benchmark's floor: round trips that ran one after another, and the gaps between them."""

from benchmarks.arbiter import LATENCY, _gaps, chain, shape


def call(arrived: float, answered: float | None) -> dict:
    return {"call": "GET /v9/orders/1", "arrived": arrived, "answered": answered, "order_id": 1}


def test_sequential_calls_each_count() -> None:
    assert chain([call(0.01, 0.11), call(0.12, 0.22)]) == 2


def test_overlapping_calls_count_once() -> None:
    assert chain([call(0.01, 0.11), call(0.05, 0.15), call(0.2, 0.3)]) == 2


def test_gaps_before_and_inside_each_call() -> None:
    gaps = _gaps(0.0, [call(0.01, 0.01 + LATENCY + 0.002), call(0.12, 0.12 + LATENCY)])
    assert [round(g, 3) for g in gaps] == [0.01, 0.002, 0.008, 0.0]


def test_overlapping_calls_are_not_broken_down() -> None:
    assert _gaps(0.0, [call(0.01, 0.11), call(0.05, 0.15)]) == []


def test_shape_hides_ids() -> None:
    assert shape("POST /v9/orders/500002/items/910002/add_etickets") == "POST /v9/orders/{id}/items/{id}/add_etickets"
