"""The values hooks exchange refuse what TEvo or the daemon could not act on."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from tevo_bridge.pos.types import HoldResult, MobileTransfer, OrderEvent, TicketFile


def test_a_refused_hold_needs_a_known_reason() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        HoldResult(held=False, reason="sold_out")  # type: ignore[arg-type]


def test_a_successful_hold_has_no_reason() -> None:
    with pytest.raises(ValueError, match="no refusal reason"):
        HoldResult(held=True, hold_id="G-1", reason="insufficient_quantity")


def test_a_claim_link_transfer_needs_a_link() -> None:
    with pytest.raises(ValueError, match="at least one claim link"):
        MobileTransfer("TMMobileLink")


def test_a_transfer_type_must_be_one_tevo_knows() -> None:
    with pytest.raises(ValueError, match="transfer_type must be one of"):
        MobileTransfer("Email")  # type: ignore[arg-type]


def test_a_ticket_files_page_map_cannot_be_changed_after_the_fact() -> None:
    pages = {"5": 2}
    file = TicketFile(b"%PDF-", pages)
    pages["5"] = 1
    with pytest.raises(TypeError):
        file.seat_pages["5"] = 1  # type: ignore[index]
    assert file.seat_pages == {"5": 2}


def test_values_are_frozen() -> None:
    event = OrderEvent(1, "done", "fulfilling", details={"invoice_id": "INV-1"})
    with pytest.raises(FrozenInstanceError):
        event.state = "rejected"  # type: ignore[misc]
