"""Pydantic models of the TEvo payloads the bridge reads (docs/tevo-api.md §3.4, §5.1, §6, §7.3).

No complete TEvo schema exists, so every model tolerates unknown fields and
requires only what the daemon cannot work without (``id``, ``seller_state``,
``items`` on an order).  Money is ``Decimal``: TEvo sends decimal strings.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

TEVO_OFFICE_ID = 6
# Ids are stored as SQLite INTEGERs (64-bit signed): a larger one from an inbound call is invalid input,
# not a store failure (which would answer 503 and make TEvo retry it for ever).
MAX_ID = 2**63 - 1
#: Longer digit strings are refused before ``int()``, which raises on over 4,300 digits.
MAX_ID_DIGITS = len(str(MAX_ID))


#: Unicode's "Cc" category exactly (C0, DEL, C1): one regex scan instead of a category look-up per character,
#: which was ~2% of a webhook ack's CPU.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _plain_text(value: str) -> str:
    """Text the store keeps as given: PostgreSQL refuses NUL in text (SQLite takes it), so a NUL, or any
    other control character (no id or name holds one), is invalid input rather than a 503 on one backend."""
    if _CONTROL.search(value):
        raise ValueError("must not hold control characters")
    return value


PlainText = Annotated[str, AfterValidator(_plain_text)]


def _str_id(value: Any) -> Any:
    """Nested ids arrive as strings or ints depending on the endpoint (fixtures README)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _money(value: Any) -> Any:
    return Decimal(str(value)) if isinstance(value, float) else value


StrId = Annotated[str, BeforeValidator(_str_id)]
Money = Annotated[Decimal, BeforeValidator(_money)]


class TevoModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Brokerage(TevoModel):
    id: int | None = None
    name: str | None = None
    abbreviation: str | None = None


class EmailAddress(TevoModel):
    id: int | None = None
    address: str | None = None
    label: str | None = None


class PhoneNumber(TevoModel):
    id: int | None = None
    number: str | None = None
    country_code: str | None = None
    extension: str | None = None
    label: str | None = None
    primary: bool | None = None


class Party(TevoModel):
    """A buyer or seller: an Office (a brokerage's branch, TEvo itself is Office 6) or a Client."""

    type: str
    id: int
    name: str | None = None
    brokerage: Brokerage | None = None
    email_addresses: list[EmailAddress] = Field(default_factory=list)
    phone_numbers: list[PhoneNumber] = Field(default_factory=list)

    @property
    def is_tevo(self) -> bool:
        return self.type == "Office" and self.id == TEVO_OFFICE_ID


class Client(TevoModel):
    id: int
    name: str | None = None
    email_addresses: list[EmailAddress] = Field(default_factory=list)
    phone_numbers: list[PhoneNumber] = Field(default_factory=list)


class Venue(TevoModel):
    name: str | None = None


class Event(TevoModel):
    id: StrId | None = None
    name: str | None = None
    occurs_at: str | None = None
    venue: Venue | None = None


class Ticket(TevoModel):
    seat: StrId | None = None


class TicketGroup(TevoModel):
    id: int | None = None
    remote_id: StrId | None = None
    section: str | None = None
    row: StrId | None = None
    seats: list[StrId] = Field(default_factory=list)
    quantity: int | None = None
    tickets: list[Ticket] = Field(default_factory=list)
    wholesale_price: Money | None = None
    retail_price: Money | None = None
    format: str | None = None
    in_hand: bool | None = None
    office_id: StrId | None = None
    event: Event | None = None


class Item(TevoModel):
    """An order item.  ``id`` goes in item URLs; ``order_item_id`` in deliver_etickets bodies (§4)."""

    id: int
    order_item_id: int | None = None
    delivery_id: int | None = None
    quantity: int
    price: Money = Decimal("0")
    cost: Money | None = None
    seats: list[StrId] = Field(default_factory=list)
    needs_eticket: bool = False
    eticket_finalized: bool = False
    eticket_pdf_pages: int | None = None
    ticket_group: TicketGroup = Field(default_factory=TicketGroup)

    @property
    def seat_list(self) -> list[str]:
        """The seats on this item: item seats if TEvo sent any, else the ticket group's (fixtures README)."""
        if self.seats:
            return list(self.seats)
        if self.ticket_group.tickets:
            return [t.seat for t in self.ticket_group.tickets if t.seat is not None]
        return list(self.ticket_group.seats)


class Address(TevoModel):
    street_address: str | None = None
    extended_address: str | None = None
    locality: str | None = None
    region: str | None = None
    postal_code: StrId | None = None
    country_code: str | None = None


class Shipment(TevoModel):
    id: int
    type: str = ""
    state: str | None = None
    tracking_number: str | None = None
    airbill: str | None = None
    mobile_transfer_type: str | None = None
    service_type: str | None = None
    ship_to_name: str | None = None
    email_address: EmailAddress | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def kind(self) -> str:
        """The delivery type without ``Delivery::``, lower case: TEvo spells TBD as ``TBD`` and ``Tbd`` (§5.1)."""
        return self.type.removeprefix("Delivery::").lower()


class Order(TevoModel):
    id: int
    oid: str | None = None
    seller_state: str
    buyer_state: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    order_type: str | None = None
    was_auto_accepted: bool | None = None
    fraud_check_status: str | None = None
    total: Money | None = None
    balance: Money | None = None
    service_fee: Money | None = None
    # What a seller's invoice carries besides the lines (POS contract 2, pipeline/pos_args.py). ``notes``
    # stays loose: TEvo's examples only ever show it empty, and an order must never fail on its memo.
    reference: StrId | None = None
    currency: str | None = None
    shipping: Money | None = None
    instructions: str | None = None
    notes: Any = None
    buyer: Party | None = None
    seller: Party | None = None
    client: Client | None = None
    items: list[Item]
    shipments: list[Shipment] = Field(default_factory=list)

    @field_validator("oid")
    @classmethod
    def _strip_oid(cls, value: str | None) -> str | None:
        # One TEvo example has a leading space (" 61449-190823", §3.1).
        return value.strip() if value else value

    @property
    def order_group_id(self) -> str | None:
        return self.oid.split("-", 1)[0] if self.oid and "-" in self.oid else None


class OrderPage(TevoModel):
    """The Orders / Index envelope (§9)."""

    total_entries: int = 0
    per_page: int = 0
    current_page: int = 1
    orders: list[Order] = Field(default_factory=list)


class WebhookForm(BaseModel):
    """A webhook POST (§6.1): four form fields, ``body`` holding JSON text."""

    model_config = ConfigDict(extra="allow")

    event_type: PlainText = Field(min_length=1, max_length=100)
    recipient: PlainText | None = Field(None, max_length=50)
    order_group_id: PlainText | None = Field(None, max_length=50)
    body: str | None = None

    def body_json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _id_string(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a string or integer id")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON "\ud800" escape: no store can keep it
            raise ValueError("must be valid Unicode text") from None
    return str(value) if isinstance(value, int) else value


IdString = Annotated[str, BeforeValidator(_id_string), Field(min_length=1, max_length=200), AfterValidator(_plain_text)]


class HoldRequest(BaseModel):
    """Order Integration hold (§7.3); numeric strings are accepted where ints are expected."""

    model_config = ConfigDict(extra="ignore")

    remote_id: IdString
    quantity: int = Field(ge=1, le=10_000)
    global_id: IdString
    price: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=4)
    ticket_group_id: int | None = Field(None, ge=0, le=MAX_ID)


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    global_id: IdString


class InvoiceRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: int = Field(ge=1, le=MAX_ID)
    global_id: IdString
