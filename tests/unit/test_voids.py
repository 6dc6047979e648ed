"""The words of a void (tevo_bridge/pipeline/voids.py): what the POS, the audit trail and a person are told."""

from __future__ import annotations

from tevo_bridge.pipeline import voids


def test_the_pos_is_told_tevos_state_and_its_notes():
    extra = {"buyer_cancellation_reason": "event postponed", "seller_cancellation_notes": None}
    assert voids.cancel_reason("canceled_post_acceptance", extra) == \
        "canceled at TEvo (canceled_post_acceptance); event postponed"
    assert voids.cancel_reason("canceled", None) == "canceled at TEvo (canceled)"


def test_the_move_to_voiding_says_whether_the_tickets_were_delivered():
    assert voids.voiding_reason("canceled", "INV-7", False) == \
        "TEvo says canceled: canceled after it was invoiced; voiding invoice INV-7 in the POS"
    assert "after its tickets were delivered" in voids.voiding_reason("canceled", "INV-7", True)


def test_a_void_by_hand_names_the_invoice_and_the_commands():
    text = voids.void_by_hand(402118, "INV-7", "the POS refused to void it: paid out", delivered=False)
    assert "invoice INV-7 was not voided: the POS refused to void it: paid out." in text
    assert "Fix: void invoice INV-7 in the POS by hand" in text
    assert "mark order 402118 resolved on the dashboard" in text and "`tevo-bridge orders retry 402118`" in text
    assert "delivered" not in text
    delivered = voids.void_by_hand(402118, "INV-7", "no hook", delivered=True)
    assert "already delivered to TEvo's buyer: revoke them too" in delivered


def test_a_delivered_order_voided_still_asks_a_person_to_revoke_the_tickets():
    text = voids.delivered_follow_up(402118, "INV-7")
    assert text.startswith("invoice INV-7 voided in the POS and its tickets are back on sale")
    assert "already delivered" in text and "mark order 402118 resolved" in text


def test_only_a_cancel_row_that_recorded_a_delivery_says_delivered():
    recorded = '{"invoice_id":"INV-7","delivered":true}'
    assert voids.says_delivered("canceled_after_invoice", recorded)
    assert not voids.says_delivered("canceled_after_invoice", '{"invoice_id":"INV-7","delivered":false}')
    assert not voids.says_delivered("invoice_voided", recorded)
    assert not voids.says_delivered("canceled_after_invoice", None)
    assert not voids.says_delivered("canceled_after_invoice", '"delivered"')
