"""The contract suite fails a careless plugin, and says what went wrong.

A suite that any plugin passes proves nothing: this runs it, in a separate pytest session, on a
plugin with eleven classic POS bugs and checks that exactly those tests fail, with their messages.
"""

from __future__ import annotations

import sys

import pytest

CARELESS_PLUGIN = '''
import time
from collections import Counter

import pytest

from tevo_bridge import hookimpl
from tevo_bridge.pos.errors import OutOfStock, UnknownRemoteId
from tevo_bridge.pos.types import Availability, Customer, HoldResult, Invoice, PriceDecision, TicketFile
from tevo_bridge.testing.contract import PosContract


class CarelessPos:
    """Right on every single call; wrong under races, replays, hold conversion and PDF covers."""

    def __init__(self, inventory):
        self.groups = {row.remote_id: row for row in inventory}
        # [global_id, remote_id, quantity, state, order_id]: a replay appends another (bug 2), and
        # expires_at is never looked at (bug 7)
        self.holds = []
        self.sold = Counter()
        self.customers = {}
        self.invoices = 0

    def _available(self, remote_id, reservations=None):
        # bug 6: a hold is checked only against holds of its own kind (order reservations in one
        # pool, checkout holds in another), as a POS with two separate "on hold" lists would
        held = sum(h[2] for h in self.holds if h[1] == remote_id and h[3] == "held"
                   and (reservations is None or (h[4] is not None) == reservations))
        return self.groups[remote_id].quantity - held - self.sold[remote_id]

    @hookimpl
    def pos_check_inventory(self, item):
        if item.remote_id not in self.groups:
            return Availability(item.remote_id, 0, known=False)
        return Availability(item.remote_id, self._available(item.remote_id))

    @hookimpl
    def pos_accept_price(self, item):
        group = self.groups.get(item.remote_id)
        return group.price_decision(item.price) if group else PriceDecision(False, "unknown")

    @hookimpl
    def pos_find_customer(self, buyer):
        return self.customers.get(buyer.id)

    @hookimpl
    def pos_create_customer(self, buyer):
        return self.customers.setdefault(buyer.id, Customer(str(buyer.id), buyer.name))

    @hookimpl
    def pos_hold(self, hold):
        if any(h[0] == hold.global_id and h[3] != "held" for h in self.holds):
            return HoldResult(False, reason="global_id_used")
        group = self.groups.get(hold.remote_id)
        if group is None:
            return HoldResult(False, available=0, reason="unknown_remote_id")
        # bug 8: the hold's total is compared to the per-ticket minimum (hold.price is per ticket)
        if hold.price is not None and not group.price_decision(hold.price * hold.quantity).acceptable:
            return HoldResult(False, reason="price_not_acceptable")
        available = self._available(hold.remote_id, reservations=hold.order_id is not None)
        if hold.quantity > available:
            return HoldResult(False, available=available, reason="insufficient_quantity")
        time.sleep(0.02)  # bug 1: no lock, and a slow POS round trip between check and write
        self.holds.append([hold.global_id, hold.remote_id, hold.quantity, "held", hold.order_id])
        return HoldResult(True, hold.global_id, available - hold.quantity)

    @hookimpl
    def pos_hold_many(self, holds):
        # bug 11: every hold of a batch is checked against the stock as it was before the batch
        before = {h.remote_id: self._available(h.remote_id, reservations=False) for h in holds
                  if h.remote_id in self.groups}
        answers = []
        for hold in holds:
            if hold.price is None and hold.quantity <= before.get(hold.remote_id, -1):
                self.holds.append([hold.global_id, hold.remote_id, hold.quantity, "held", None])
                answers.append(HoldResult(True, hold.global_id, before[hold.remote_id] - hold.quantity))
            else:
                answers.append(self.pos_hold(hold))
        return answers

    @hookimpl
    def pos_release_hold(self, hold):
        held = [h for h in self.holds if h[0] == hold.global_id and h[3] == "held"]
        for h in held:
            h[3] = "released"
        return bool(held)

    @hookimpl
    def pos_create_invoice(self, order, customer):
        # bug 3: no check for an earlier invoice of this order; bug 4: item.global_id is ignored,
        # so a held or reserved order takes its tickets twice.
        for item in order.items:
            if item.remote_id not in self.groups:
                raise UnknownRemoteId(item.remote_id)
            if item.quantity > self._available(item.remote_id):
                raise OutOfStock(item.remote_id, item.quantity, self._available(item.remote_id))
        time.sleep(0.02)  # bug 1 again
        for item in order.items:
            self.sold[item.remote_id] += item.quantity
        self.invoices += 1
        return Invoice(f"C-{self.invoices}", created=True)

    @hookimpl
    def pos_ticket_files(self, order, item):
        group = self.groups[item.remote_id]
        if not group.eticket_pdf:
            # bug 9: e-tickets not in yet answered with "no files" as an empty list, not TicketsNotReady
            return [] if item.needs_eticket else None
        with open(group.eticket_pdf, "rb") as f:
            pdf = f.read()
        # bug 5: assumes the PDF starts with the first seat, but this one has a cover page
        return [TicketFile(pdf, {seat: group.seats.index(seat) + 1 for seat in item.seats})]

    @hookimpl
    def pos_order_event(self, event):
        # bug 10: a note for the states someone thought of; a KeyError for the others
        self.last_note = {"done": "sold", "rejected": "refused", "canceled": "void it"}[event.state]


class TestCarelessPos(PosContract):
    @pytest.fixture
    def pos_plugin(self, pos_inventory):
        return CarelessPos(pos_inventory)
'''


class _Failures:
    """Collects the failing tests of the inner run, by name, with their failure text."""

    def __init__(self) -> None:
        self.by_test: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.by_test[report.nodeid.split("::")[-1]] = report.longreprtext


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run the contract on the careless plugin once, in-process, for all the tests below."""
    folder = tmp_path_factory.mktemp("careless")
    (folder / "test_careless_pos.py").write_text(CARELESS_PLUGIN)
    collected = _Failures()
    pytest.main(
        [str(folder), "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "--rootdir", str(folder)],
        plugins=[collected],
    )
    sys.modules.pop("test_careless_pos", None)
    return collected.by_test


def test_the_suite_fails_exactly_the_careless_plugins_bugs(failures: dict[str, str]) -> None:
    assert set(failures) == {
        # bug 1
        "test_racing_holds_never_oversell",
        "test_racing_invoices_never_oversell",
        "test_racing_reservations_and_checkout_holds_take_the_last_tickets_once",
        "test_racing_batches_and_single_holds_never_oversell",
        # bug 2
        "test_repeating_a_hold_returns_the_same_hold_and_takes_nothing_more",
        "test_racing_repeats_of_one_hold_hold_once",
        "test_a_hold_repeated_in_a_later_batch_or_alone_is_the_same_hold",
        # bug 3
        "test_invoicing_an_order_twice_returns_the_first_invoice_and_sells_nothing_more",
        # bug 4
        "test_an_invoice_consumes_its_hold_instead_of_taking_stock_twice",
        "test_releasing_an_invoiced_hold_frees_nothing",
        "test_an_invoice_consumes_each_items_reservation",
        # bug 5
        "test_ticket_files_are_pdfs_with_one_page_per_seat",
        "test_ticket_files_skip_cover_and_advert_pages",
        # bug 6
        "test_a_checkout_hold_cannot_take_tickets_an_order_reserved",
        "test_an_order_cannot_reserve_tickets_a_checkout_holds",
        # bug 7
        "test_a_hold_stops_counting_once_it_lapses",
        # bug 8 (contract 2)
        "test_a_hold_of_several_tickets_below_the_minimum_per_ticket_is_refused",
        # bug 9 (contract 2)
        "test_ticket_files_are_none_or_files_never_an_empty_list",
        # bug 10 (contract 2)
        "test_order_events_never_raise",
        # bug 11 (pos_hold_many)
        "test_holds_of_one_batch_never_oversell",
    }


@pytest.mark.parametrize(
    ("test", "message"),
    [
        ("test_racing_holds_never_oversell", "8 racing holds of 3 of 10: "),
        ("test_holds_of_one_batch_never_oversell", "four holds of 3 of 10 in one call: [HoldResult(held=True"),
        ("test_a_hold_repeated_in_a_later_batch_or_alone_is_the_same_hold", "G-b1 held in a batch, then again in a batch, then alone"),
        ("test_a_checkout_hold_cannot_take_tickets_an_order_reserved", "both buyers would be told yes"),
        ("test_a_hold_stops_counting_once_it_lapses", "a hold past its expires_at still counts"),
        ("test_repeating_a_hold_returns_the_same_hold_and_takes_nothing_more", "a replayed hold must not hold twice"),
        ("test_invoicing_an_order_twice_returns_the_first_invoice_and_sells_nothing_more", "replayed invoice: "),
        (
            "test_an_invoice_consumes_its_hold_instead_of_taking_stock_twice",
            "hold + invoice of the same 2 tickets took 4",
        ),
        (
            "test_ticket_files_are_pdfs_with_one_page_per_seat",
            "seat -> text 'SEAT n' on its page: got {'5': '', '6': '5'}, expected {'5': '5', '6': '6'}",
        ),
        (
            "test_a_hold_of_several_tickets_below_the_minimum_per_ticket_is_refused",
            "pos_hold of 3 tickets at 249.99 each, under the 250.00 minimum per ticket: HoldResult(held=True",
        ),
        (
            "test_ticket_files_are_none_or_files_never_an_empty_list",
            "pos_ticket_files returned [] for the e-ticket items of 91508, 90417, 90422: return None",
        ),
        (
            "test_order_events_never_raise",
            "(a notification must never raise: catch and log inside the hook): None -> new: KeyError('new')",
        ),
    ],
)
def test_each_failure_says_what_went_wrong(failures: dict[str, str], test: str, message: str) -> None:
    assert message in failures[test]
