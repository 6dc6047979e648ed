"""What ``POST /_sandbox/orders`` may ask for beyond a scenario: the listing to buy from and how many tickets.

A seller rehearsing with their own stock wants "two tickets of my listing 88213", not whatever the
rotation picks next. Each field is checked here, so a wrong one is answered with its name (a
``ValueError`` the route turns into a 422) and no order is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tevo_bridge.sandbox.inventory import TicketGroupSpec
from tevo_bridge.sandbox.scenarios import DEFAULT_FOR_FORMAT, Pick, Scenario

__all__ = ["requested"]


def requested(body: Mapping[str, object], listings: Sequence[TicketGroupSpec]) -> tuple[Scenario, Pick | None]:
    """The scenario and the caller's pick; without ``ticket_group_id`` and ``quantity``, just the scenario."""
    group = _listing(body, listings)
    quantity = _quantity(body)
    if group is None and quantity is not None:
        raise ValueError("quantity: name the listing too (ticket_group_id or remote_id)")
    if "scenario" not in body and group is not None:
        return DEFAULT_FOR_FORMAT[group.format], Pick(group, quantity)
    try:
        scenario = Scenario(str(body.get("scenario")))
    except ValueError:
        raise ValueError(f"scenario must be one of: {', '.join(s.value for s in Scenario)}") from None
    return scenario, Pick(group, quantity) if group is not None else None


def _listing(body: Mapping[str, object], listings: Sequence[TicketGroupSpec]) -> TicketGroupSpec | None:
    if "ticket_group_id" in body and "remote_id" in body:
        # Two names for one listing can disagree, and guessing which was meant orders the wrong tickets.
        raise ValueError("name the listing once: ticket_group_id or remote_id, not both")
    if "ticket_group_id" in body:
        wanted = body["ticket_group_id"]
        if isinstance(wanted, bool) or not isinstance(wanted, int):
            raise ValueError(f"ticket_group_id must be a whole number, not {wanted!r}")
        found = [g for g in listings if g.ticket_group_id == wanted]
    elif "remote_id" in body:
        remote_id = body["remote_id"]
        if isinstance(remote_id, bool) or not isinstance(remote_id, str | int):
            raise ValueError(f"remote_id must be text, not {remote_id!r}")
        wanted = remote_id
        found = [g for g in listings if g.remote_id == str(remote_id)]
    else:
        return None
    if not found:
        field = "ticket_group_id" if "ticket_group_id" in body else "remote_id"
        raise ValueError(f"{field} {wanted!r}: no such listing in this sandbox (GET /_sandbox/inventory lists them)")
    return found[0]


def _quantity(body: Mapping[str, object]) -> int | None:
    if "quantity" not in body:
        return None
    quantity = body["quantity"]
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ValueError(f"quantity must be a whole number of tickets, at least 1, not {quantity!r}")
    return quantity
