"""What a cancel of an invoiced order says: to the POS, to the audit trail and to the person who must act.

TEvo can cancel an order after the POS invoiced it, even after the tickets were delivered. The processor
voids the invoice through ``pos_void_invoice`` (contract 2) so the seats go back on sale; this module holds
the words of that step, kept pure so each message is tested on its own and reads the same wherever shown.
"""

from __future__ import annotations

import json
from typing import Any

#: The optional hook that voids an invoice.
VOID_HOOK = "pos_void_invoice"
#: The audit action written as the order enters ``voiding``: "canceled after invoice", for people and notifiers.
#: Its details keep whether the tickets had been delivered, a fact retention cannot prune while it is needed.
CANCELED_ACTION = "canceled_after_invoice"
#: The audit action written once the POS confirmed the void: ``orders show`` and the dashboard list it.
VOIDED_ACTION = "invoice_voided"


def canceled_details(invoice_id: str, delivered: bool) -> dict[str, Any]:
    return {"invoice_id": invoice_id, "delivered": delivered}


def says_delivered(action: str, details: str | None) -> bool:
    """Whether an audit row is a ``canceled_after_invoice`` that recorded the tickets as delivered."""
    if action != CANCELED_ACTION or not details:
        return False
    recorded = json.loads(details)
    return isinstance(recorded, dict) and recorded.get("delivered") is True


def cancel_reason(seller_state: str, extra: dict[str, Any] | None) -> str:
    """TEvo's own words for the cancel, for the POS's note: the state, and the notes TEvo gives if any."""
    extra = extra or {}
    notes = [str(extra[key]) for key in ("seller_cancellation_notes", "buyer_cancellation_reason",
                                         "buyer_cancellation_notes") if extra.get(key)]
    return "; ".join([f"canceled at TEvo ({seller_state})", *notes])


def voiding_reason(seller_state: str, invoice_id: str, delivered: bool) -> str:
    """The reason of the move to ``voiding``: the event a notifier keys on ("canceled after invoice")."""
    when = "after its tickets were delivered" if delivered else "after it was invoiced"
    return f"TEvo says {seller_state}: canceled {when}; voiding invoice {invoice_id} in the POS"


def voided_reason(invoice_id: str) -> str:
    return f"canceled at TEvo; invoice {invoice_id} voided in the POS, its tickets are back on sale"


def delivered_follow_up(order_id: int, invoice_id: str) -> str:
    """Voided, but the buyer already has the tickets: putting them back on sale is not enough."""
    return (f"invoice {invoice_id} voided in the POS and its tickets are back on sale, but they were already "
            f"delivered to TEvo's buyer before the cancel. Fix: revoke the delivered tickets (reissue the e-tickets, "
            f"ask for the mobile transfer back, or recover the shipped tickets), or take the seats off sale in the "
            f"POS until you have; then mark order {order_id} resolved on the dashboard.")


def void_by_hand(order_id: int, invoice_id: str, why: str, delivered: bool) -> str:
    """The ``needs_review`` reason when the POS did not void: what happened, then exactly what to do."""
    also = (" Its tickets were already delivered to TEvo's buyer: revoke them too (reissue the e-tickets, ask "
            "for the mobile transfer back, or recover the shipped tickets).") if delivered else ""
    return (f"canceled at TEvo after it was invoiced, and invoice {invoice_id} was not voided: {why}. Fix: void "
            f"invoice {invoice_id} in the POS by hand so its tickets go back on sale, then mark order {order_id} "
            f"resolved on the dashboard; or, once the POS plugin can void it, run "
            f"`tevo-bridge orders retry {order_id}`.{also}")
