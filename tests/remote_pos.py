"""The SQLite POS behind a pretend network, to prove the contract's slow and lost-answer tests.

``RemoteSqlitePos`` forwards every required hook (and ``pos_health``) to a ``SqlitePos`` the way a
plugin for a remote POS would: each call is a round trip that may take ``delay`` seconds, and the
first answer to each write (per hook and key) may be lost after the POS applied it. Two switches
make it a careless plugin instead: ``honour_deadline=False`` waits for the slow POS whatever the
hook's deadline, ``fresh_key_per_try=True`` sends each repeat of a write under a new key, as a
client that makes a request id per attempt would, and ``refuse_repeated_void=True`` refuses to void a
void invoice instead of answering as the first void did.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from tevo_bridge_sqlite_pos import SqlitePos, store

from tevo_bridge import hookimpl
from tevo_bridge.pos import deadline
from tevo_bridge.pos.errors import VoidRefused
from tevo_bridge.pos.types import (
    Availability,
    Buyer,
    Customer,
    Hold,
    HoldResult,
    Invoice,
    Item,
    Order,
    PosHealth,
    PriceDecision,
    TicketFile,
)

T = TypeVar("T")

#: Far enough from any real id that a re-keyed buyer or order is visibly another one.
_KEY_STRIDE = 10**9


class AnswerLost(ConnectionResetError):
    """The POS applied the write; its answer never arrived."""


class RemoteSqlitePos:
    def __init__(self, inner: SqlitePos, *, delay: float = 0.0, lose_first_answer: bool = False,
                 honour_deadline: bool = True, fresh_key_per_try: bool = False,
                 refuse_repeated_void: bool = False) -> None:
        self.inner = inner
        self.delay = delay
        self.lose_first_answer = lose_first_answer
        self.honour_deadline = honour_deadline
        self.fresh_key_per_try = fresh_key_per_try
        self.refuse_repeated_void = refuse_repeated_void
        self._lock = threading.Lock()
        self._tries: Counter[tuple[str, object]] = Counter()

    # -- the pretend network ---------------------------------------------------------------------

    def _round_trip(self, call: Callable[[], T]) -> T:
        if self.delay:
            waited = min(self.delay, deadline.time_left()) if self.honour_deadline else self.delay
            time.sleep(waited)
            if waited < self.delay:
                raise TimeoutError(f"the POS did not answer within {waited:.2f} s (the hook's deadline)")
        return call()

    def _try(self, hook: str, key: object) -> int:
        with self._lock:
            self._tries[(hook, key)] += 1
            return self._tries[(hook, key)]

    def _write(self, hook: str, key: object, call: Callable[[int], T]) -> T:
        """``call(try_number)`` sent to the POS; the first answer per hook and key lost if so configured."""
        attempt = self._try(hook, key)
        result = self._round_trip(lambda: call(attempt))
        if self.lose_first_answer and attempt == 1:
            raise AnswerLost(f"{hook} {key}: the connection dropped before the POS's answer arrived")
        return result

    def _rekeyed(self, key: int, attempt: int) -> int:
        return key + _KEY_STRIDE * (attempt - 1) if self.fresh_key_per_try else key

    # -- hooks -----------------------------------------------------------------------------------

    @hookimpl
    def pos_health(self) -> PosHealth:
        return self._round_trip(self.inner.pos_health)

    @hookimpl
    def pos_check_inventory(self, item: Item) -> Availability:
        return self._round_trip(lambda: self.inner.pos_check_inventory(item))

    @hookimpl
    def pos_accept_price(self, item: Item) -> PriceDecision:
        return self._round_trip(lambda: self.inner.pos_accept_price(item))

    @hookimpl
    def pos_find_customer(self, buyer: Buyer) -> Customer | None:
        return self._round_trip(lambda: self.inner.pos_find_customer(buyer))

    @hookimpl
    def pos_create_customer(self, buyer: Buyer) -> Customer:
        return self._write("pos_create_customer", buyer.id, lambda n: self.inner.pos_create_customer(
            replace(buyer, id=self._rekeyed(buyer.id, n))))

    @hookimpl
    def pos_hold(self, hold: Hold) -> HoldResult:
        def send(attempt: int) -> HoldResult:
            key = f"{hold.global_id}~{attempt}" if self.fresh_key_per_try and attempt > 1 else hold.global_id
            return self.inner.pos_hold(replace(hold, global_id=key))

        return self._write("pos_hold", hold.global_id, send)

    @hookimpl
    def pos_release_hold(self, hold: Hold) -> bool:
        return self._write("pos_release_hold", hold.global_id,
                           lambda n: self.inner.pos_release_hold(hold))

    @hookimpl
    def pos_create_invoice(self, order: Order, customer: Customer | None) -> Invoice:
        return self._write("pos_create_invoice", order.order_id, lambda n: self.inner.pos_create_invoice(
            replace(order, order_id=self._rekeyed(order.order_id, n)), customer))

    @hookimpl
    def pos_ticket_files(self, order: Order, item: Item) -> list[TicketFile] | None:
        return self._round_trip(lambda: self.inner.pos_ticket_files(order, item))

    @hookimpl
    def pos_void_invoice(self, order: Order, invoice_id: str, reason: str) -> None:
        self._write("pos_void_invoice", invoice_id, lambda n: self._void(invoice_id))

    def _void(self, invoice_id: str) -> None:
        """A void the SQLite sample lacks here: the invoice's lines go, so its tickets count as on sale again."""
        with store.connect(self.inner.database) as conn:
            gone = conn.execute("DELETE FROM invoice_lines WHERE invoice_id = ?",
                                (int(invoice_id.removeprefix("INV-")),)).rowcount
        if not gone and self.refuse_repeated_void:
            raise VoidRefused(invoice_id, "the invoice is already void")
