"""``compact`` encodes with one encoder made once: byte for byte what ``json.dumps`` gave (stored answers are
replayed byte for byte, and dedupe keys hash these bytes)."""

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tevo_bridge.intake.http import compact

BODIES = [
    {"status": "held", "global_id": "g-1", "hold_id": "h_7f3a", "quantity": 2, "expires_at": "2026-01-31T18:15:00Z"},
    {"name": "Zoë 東京 \u2028", "control": "\x00\x1f\x7f\x85", "quote": '"\\/'},
    [1, 2.5, -0.0, 1e300, float("inf"), float("nan"), None, True, False],
    {"price": Decimal("12.3400"), "at": datetime(2026, 1, 31, 18, 15, tzinfo=UTC), "set": {1}},
    sorted({"remote_id": "91508", "quantity": 2, "global_id": "g"}.items()),
    {"nested": {"deep": [{"lone surrogate": "\ud800"}]}, 3: "int key", 2.5: "float key", None: "none key"},
    "plain", 42, None, [], {},
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_compact_gives_json_dumps_bytes(body):
    assert compact(body) == json.dumps(body, separators=(",", ":"), default=str)


def test_compact_from_many_threads_at_once_gives_each_its_own_bytes():
    bodies = [{"global_id": f"g-{n}", "items": list(range(n % 50)), "name": "é" * n} for n in range(400)]
    expected = [json.dumps(b, separators=(",", ":"), default=str) for b in bodies]
    got: dict[int, str] = {}

    def encode(start: int) -> None:
        for n in range(start, len(bodies), 8):
            got[n] = compact(bodies[n])

    threads = [threading.Thread(target=encode, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[n] for n in range(len(bodies))] == expected
