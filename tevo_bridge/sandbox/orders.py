"""Builds orders shaped exactly like TEvo's Orders / Show JSON (see tests/fixtures).

Everything a bridge could trip over is reproduced on purpose: ``oid`` with a
leading space, money as decimal strings, nested ticket-group ids as strings,
and three different item ids (``id``, ``order_item_id``, ``order_item_link_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tevo_bridge.sandbox.inventory import ETICKET, TicketGroupSpec
from tevo_bridge.sandbox.money import money

SELLER_OFFICE_ID = 2187
SELLER_BROKERAGE_ID = 2241
TEVO_OFFICE_ID = 6

SELLER: dict[str, Any] = {
    "type": "Office",
    "id": SELLER_OFFICE_ID,
    "name": "Main Office",
    "url": f"/offices/{SELLER_OFFICE_ID}",
    "brokerage": {"id": SELLER_BROKERAGE_ID, "name": "Hudson Ticket Exchange", "abbreviation": "HTX",
                  "url": f"/brokerages/{SELLER_BROKERAGE_ID}"},
}
TEVO_BUYER: dict[str, Any] = {
    "type": "Office",
    "id": TEVO_OFFICE_ID,
    "name": "Ticket Evolution",
    "url": f"/offices/{TEVO_OFFICE_ID}",
    "brokerage": {"id": 1, "name": "Ticket Evolution", "abbreviation": "TEVO", "url": "/brokerages/1"},
}
TEVO_CREATED_BY: dict[str, Any] = {"type": "UserCredential", "label": "Token 1709221354", "office_id": 6,
                                   "brokerage_id": 1}
WEBSITE_CREATED_BY: dict[str, Any] = {"type": "UserCredential", "label": "Website", "office_id": SELLER_OFFICE_ID,
                                      "brokerage_id": SELLER_BROKERAGE_ID}
TEVO_BILLING_ADDRESS: dict[str, Any] = {
    "id": 8634, "label": None, "street_address": "1450 Broadway", "extended_address": "Ninth Floor",
    "locality": "New York", "region": "NY", "postal_code": "10018", "country_code": "US", "po_box": False,
    "primary": False, "latitude": None, "longitude": None,
}

SHIPMENT_TYPES = ("Eticket", "FedEx", "LocalPickup", "TBD")


@dataclass(frozen=True)
class ClientSpec:
    """A buyer on the seller's own TEvo-powered website (``buyer.type == "Client"``)."""

    id: int
    name: str
    email: str
    phone: str
    email_id: int
    phone_id: int
    street_address: str = "48 Brattle Street"
    locality: str = "Cambridge"
    region: str = "MA"
    postal_code: str = "02138"


DEMO_CLIENTS = (
    ClientSpec(3381027, "Megan Alvarez", "megan.alvarez@example.com", "617-555-0148", 4410982, 2975561),
    ClientSpec(3381154, "Tomás Whitfield", "tomas.whitfield@example.com", "212-555-0137", 4411230, 2975702,
               "311 West 43rd Street", "New York", "NY", "10036"),
)
SHIP_TO_NAMES = ("Daniel Okafor", "Priya Raman", "Grace Lindqvist", "Marcus Bell")


@dataclass(frozen=True)
class ItemRequest:
    """One order line: ``quantity`` tickets of ``group`` at ``price`` each."""

    group: TicketGroupSpec
    quantity: int
    price: Decimal
    seats: list[str]


@dataclass(frozen=True)
class OrderRequest:
    """What a buyer asks for; the world turns it into a TEvo order with fresh ids."""

    items: list[ItemRequest]
    shipment_type: str = "Eticket"
    client: ClientSpec | None = None
    seller_state: str = "pending"
    fraud_check_status: str | None = None
    was_auto_accepted: bool | None = None
    ship_to_name: str = "Daniel Okafor"
    scenario: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.shipment_type not in SHIPMENT_TYPES:
            raise ValueError(f"shipment_type must be one of {SHIPMENT_TYPES}")
        if not self.items:
            raise ValueError("an order needs at least one item")


@dataclass(frozen=True)
class NewIds:
    """Ids handed out by the world; each kind has its own range so a mix-up is visible."""

    order_id: int
    order_group_id: int
    shipment_id: int
    item_ids: list[tuple[int, int, int]]  # (id, order_item_id, order_item_link_id) per item


def build_order(request: OrderRequest, ids: NewIds, now: str) -> dict[str, Any]:
    """The Orders / Show body for a new order."""
    items = [_item(req, item_ids, ids, request, now)
             for req, item_ids in zip(request.items, ids.item_ids, strict=True)]
    subtotal = sum((Decimal(i["cost"]) for i in items), Decimal(0))
    client = _client(request.client) if request.client else None
    service_fee = (subtotal * Decimal("0.1")) if client else Decimal(0)
    total = subtotal + service_fee
    paid = client is not None  # a website sale is paid by card at checkout; TEvo pays later
    order: dict[str, Any] = {
        "id": ids.order_id,
        "oid": f" {ids.order_group_id}-{ids.order_id}",  # TEvo's leading space (§3.1)
        "url": f"/orders/{ids.order_id}",
        "created_at": now,
        "updated_at": now,
        "created_by": dict(WEBSITE_CREATED_BY if client else TEVO_CREATED_BY),
        "seller_state": request.seller_state,
        "buyer_state": request.seller_state,
        "order_type": "direct",
        "patron_type": "Client" if client else "Office",
        "partner": False,
        "seller_is_pos": False,
        "spec": False,
        "oth_created": False,
        "was_auto_accepted": request.was_auto_accepted,
        "was_auto_pended": None,
        "was_auto_canceled": None,
        "seller_rejection_reason": None,
        "seller_cancellation_notes": None,
        "buyer_rejection_reason": None,
        "buyer_cancellation_notes": None,
        "buyer_cancellation_reason": None,
        "substitutions": [],
        "instructions": None,
        "reference": None,
        "invoice_number": None,
        "notes": [],
        "hold_expires_at": None,
        "fraud_check_status": request.fraud_check_status,
        "kount_score": None,
        "service_fee": money(service_fee),
        "discount": "0.0",
        "refunded": "0.0",
        "tax": "0.0",
        "shipping": "0.0",
        "additional_expense": "0.0",
        "total": money(total),
        "balance": "0.0" if paid else money(total),
        "completed_non_refund_payments_total": float(total) if paid else 0,
        "pending_non_refund_payments_total": 0,
        "penalties_total": 0.0,
        "created_by_ip_address": "203.0.113.54" if client else None,
        "billing_address": _client_address(request.client, "billing") if request.client
        else dict(TEVO_BILLING_ADDRESS),
        "buyer": {"type": "Client", **client} if client else dict(TEVO_BUYER),
        "client": client,
        "seller": dict(SELLER),
        "items": items,
        "shipments": [build_shipment(ids.shipment_id, request, now)],
    }
    return order


def _item(req: ItemRequest, item_ids: tuple[int, int, int], ids: NewIds, order: OrderRequest,
          now: str) -> dict[str, Any]:
    item_id, order_item_id, link_id = item_ids
    group = req.group
    return {
        "id": item_id,
        "order_item_id": order_item_id,
        "order_item_link_id": link_id,
        "delivery_id": ids.shipment_id,
        "url": f"/orders/{ids.order_id}/items/{item_id}",
        "quantity": req.quantity,
        "price": money(req.price),
        "cost": money(req.price * req.quantity),
        "needs_eticket": order.shipment_type == "Eticket" and group.format == ETICKET,
        "needs_sub": False,
        "has_spec_tickets": False,
        "seats": [],
        "eticket_finalized": False,
        "eticket_finalized_at": None,
        "eticket_pdf_pages": None,
        "eticket_file_size": None,
        "eticket_updated_at": None,
        "eticket_downloaded_at": None,
        "eticket_downloaded_by": None,
        "eticket_thumbnails": [],
        "created_at": now,
        "updated_at": now,
        "ticket_group": {
            "id": group.ticket_group_id,
            "url": f"/ticket_groups/{group.ticket_group_id}",
            "remote_id": group.remote_id,
            "section": group.section,
            "row": group.row,
            "seats": list(req.seats),
            "quantity": req.quantity,
            "tickets": [{"seat": seat, "purchase_order_id": None} for seat in req.seats],
            "wholesale_price": money(group.wholesale_price),
            "retail_price": money(group.retail_price),
            "format": group.format,
            "external_notes": group.external_notes or None,
            "in_hand": group.in_hand,
            "in_hand_on": None,
            # Nested ids are strings in TEvo's item JSON (fixtures README).
            "office_id": str(SELLER_OFFICE_ID),
            "office_name": SELLER["name"],
            "brokerage_id": str(SELLER_BROKERAGE_ID),
            "brokerage_name": SELLER["brokerage"]["name"],
            "event": {
                "id": str(group.event_id),
                "name": group.event_name,
                "occurs_at": group.occurs_at,
                "url": f"/events/{group.event_id}",
                "venue": {"name": group.venue,
                          "address": {"locality": group.venue_locality, "region": group.venue_region}},
            },
        },
    }


def _client(spec: ClientSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "name": spec.name,
        "url": f"/clients/{spec.id}",
        "email_addresses": [{"id": spec.email_id, "address": spec.email, "label": "home"}],
        "phone_numbers": [{"id": spec.phone_id, "label": "cell", "country_code": "+1", "number": spec.phone,
                           "extension": None, "primary": True}],
    }


def _client_address(spec: ClientSpec, label: str) -> dict[str, Any]:
    return {"id": spec.id * 3 + 1, "label": label, "street_address": spec.street_address, "extended_address": None,
            "locality": spec.locality, "region": spec.region, "postal_code": spec.postal_code, "country_code": "US",
            "po_box": False, "primary": True, "latitude": None, "longitude": None}


def build_shipment(shipment_id: int, request: OrderRequest, now: str) -> dict[str, Any]:
    """The one shipment a new order carries, of the type the buyer chose (§5.1)."""
    client = request.client
    shipment: dict[str, Any] = {
        "id": shipment_id,
        "url": f"/shipment/{shipment_id}",  # singular, as in TEvo's example
        "type": request.shipment_type,
        "state": "pending",
        "name": None,
        "tracking_number": None,
        "cost": "0.0",
        "notes": None,
        "email_address": None,
        "ship_to_name": None,
        "ship_to_company_name": None,
        "courier_company": None,
        "service_type": None,
        "service_type_display": None,
        "signature_type": None,
        "airbill": "",
        "residential": False,
        "created_at": now,
        "updated_at": now,
    }
    if client is not None:
        shipment["email_address"] = {"id": client.email_id, "url": f"/clients/{client.id}/email_addresses/"
                                     f"{client.email_id}", "address": client.email, "label": "home",
                                     "updated_at": now}
        shipment["ship_to_name"] = client.name
    if request.shipment_type == "FedEx":
        shipment.update(
            ship_to_name=request.ship_to_name, service_type="LEAST_EXPENSIVE", service_type_display="Least Expensive",
            signature_type="INDIRECT", residential=True,
            address={"id": shipment_id * 10 + 1, "label": "shipping", "street_address": "2217 Maple Ridge Drive",
                     "extended_address": None, "locality": "Plano", "region": "TX", "postal_code": "75093",
                     "country_code": "US", "po_box": False, "primary": False, "latitude": None, "longitude": None},
            phone_number={"id": shipment_id * 10 + 2, "label": "cell", "country_code": "+1",
                          "number": "972-555-0163", "extension": None, "primary": True},
        )
    elif request.shipment_type == "LocalPickup":
        shipment.update(ship_to_name=request.ship_to_name, ship_from_name=None, pickup_time_range=None,
                        pickup_instructions=None)
    elif request.shipment_type == "TBD":
        shipment["mobile_transfer_type"] = None
    return shipment
