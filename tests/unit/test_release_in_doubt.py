"""A release the POS did not answer in time may still be carried out, late: the order's next reservation must use new
global ids, or that late release would free the tickets after TEvo's accept was called on their strength.

Found by the stateful reliability run (stop 32): the POS hung, the order was given up and its release timed out, the
operator fixed the POS and retried, the retry reserved the same global id again (a replay, held), TEvo accepted, and
then the hung release landed and freed the tickets before the invoice. Real SQLite store; TEvo and the POS are
stand-ins that record what happened.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
from pathlib import Path

import pytest

from tests.conftest import load_fixture
from tevo_bridge.config import Settings
from tevo_bridge.pipeline.processor import OrderProcessor, reservation_id
from tevo_bridge.pos import types as pos
from tevo_bridge.pos.errors import PosError, PosTimeout
from tevo_bridge.store import AsyncStore, SqliteStore
from tevo_bridge.tevo.models import Order

ORDER = load_fixture("orders/office_sale_eticket.json")
ITEM = ORDER["items"][0]["id"]


class Accepted(Exception):
    """Ends a run at TEvo's accept."""


class Tevo:
    def __init__(self, order: Order) -> None:
        self.order = order

    async def get_order(self, order_id: int) -> Order:
        return self.order

    async def accept_order(self, order_id: int, reviewer_id: int) -> Order:
        raise Accepted()


class Pos:
    """Holds every item when ``hold_fails`` is None; each release fails with ``release_fails`` (None: it frees)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.hold_fails: Exception | None = None
        self.release_fails: Exception | None = None

    async def hold(self, hold: pos.Hold) -> pos.HoldResult:
        self.calls.append(f"hold {hold.global_id}")
        if self.hold_fails is not None:
            raise self.hold_fails
        return pos.HoldResult(held=True, hold_id=hold.global_id)

    async def release_hold(self, hold: pos.Hold) -> bool:
        self.calls.append(f"release {hold.global_id}")
        if self.release_fails is not None:
            raise self.release_fails
        return True

    def has_hook(self, hook: str) -> bool:
        return False


def _timeout(hook: str) -> PosTimeout:
    return PosTimeout(hook, 0.5, concurrent.futures.Future())


async def _given_up_then_retried(tmp_path: Path, release_fails: Exception) -> tuple[list[str], int]:
    """Reserving times out; the order is given up and its release fails with ``release_fails``; the POS recovers
    and the order is retried up to TEvo's accept. The POS's calls, and the round the order ends in."""
    sync = SqliteStore(tmp_path / "state.sqlite3")
    order = Order.model_validate(copy.deepcopy(ORDER))
    sync.ensure_order(order.id, "webhook")
    store = AsyncStore(sync)
    the_pos = Pos()
    processor = OrderProcessor(store, Tevo(order), the_pos, Settings())  # type: ignore[arg-type]
    try:
        the_pos.hold_fails = _timeout("pos_hold")
        with pytest.raises(PosTimeout):
            await processor.process(order.id)
        the_pos.release_fails = release_fails
        with pytest.raises(type(release_fails)):
            await processor.give_up(order.id, "pos_hold: no answer within its 0.5 s budget")
        the_pos.hold_fails = the_pos.release_fails = None  # the operator fixed the POS, and retries
        with pytest.raises(Accepted):
            await processor.process(order.id)
        row = sync.get_order(order.id)
        assert row is not None
        return the_pos.calls, row.reservation_round
    finally:
        store.close()


def test_after_a_release_in_doubt_the_retry_reserves_under_new_global_ids(tmp_path: Path) -> None:
    calls, reservation_round = asyncio.run(_given_up_then_retried(tmp_path, _timeout("pos_release_hold")))
    first, second = reservation_id(ORDER["id"], ITEM, 0), reservation_id(ORDER["id"], ITEM, 1)
    # Round 0 is released once more before round 1 asks for the same tickets: a hold of it that landed late (after
    # the release that timed out) would otherwise keep them set aside, and round 1 might find too few.
    assert calls == [f"hold {first}", f"release {first}", f"release {first}", f"hold {second}"]
    assert reservation_round == 1  # the accept was called on the strength of round 1's reservation


def test_after_a_release_that_surely_failed_the_retry_reserves_the_same_global_ids_again(tmp_path: Path) -> None:
    # The POS said no: nothing was freed and nothing can be freed late, so the held reservation is replayed (a new
    # round would set aside the same tickets twice until the old one lapsed).
    failed = PosError("pos_release_hold", ConnectionError("the POS refused the connection"))
    calls, reservation_round = asyncio.run(_given_up_then_retried(tmp_path, failed))
    first = reservation_id(ORDER["id"], ITEM, 0)
    assert calls == [f"hold {first}", f"release {first}", f"hold {first}"]
    assert reservation_round == 0
