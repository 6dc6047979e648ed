"""The cause classes "Retry all" groups needs_review reasons by (tevo_bridge/dashboard/causes.py)."""

from __future__ import annotations

import pytest

from tevo_bridge.dashboard.causes import cause_of, groups
from tevo_bridge.pos.errors import TicketFileUnreadable


@pytest.mark.parametrize(("reason", "key"), [
    ("not accepted, it could not be delivered: item 910006: file 1 (88702.pdf) is not a readable PDF", "ticket_files"),
    (f"item 9: {TicketFileUnreadable('/srv/tickets/88702.pdf', 'No such file or directory')}", "ticket_files"),
    ("item 9: the POS has no e-ticket files for it (pos_ticket_files returned nothing)", "ticket_files"),
    ("cannot supply: listing 88702 has 0 left", "cannot_supply"),
    ("item 9: the POS cannot supply ticket files: sold elsewhere", "cannot_supply"),
    ("POS: unreachable (connection refused)", "pos_unreachable"),
    ("gave up after 5 attempts: PosTimeout: pos_invoice took longer than 30 s", "pos_unreachable"),
    ("shipment 4 is a local pickup, but the config lacks fulfillment.local_pickup.time_range", "config"),
    ("TEvo's fraud check declined the order", "fraud"),
    ("TEvo seller_state 'disputed' has no automatic handling", None),
    ("not possible: the deposit was refunded", None),  # "pos" only as a whole word
])
def test_a_reason_falls_in_the_class_of_its_cause(reason, key):
    cause = cause_of(reason)
    assert (cause.key if cause else None) == key


def test_only_classes_of_two_or_more_orders_are_offered():
    reasons = ["a.pdf is not a readable PDF", "b.pdf is not a readable PDF", "POS: unreachable", "odd"]
    assert [(cause.key, n) for cause, n in groups(reasons)] == [("ticket_files", 2)]
