"""What POS hooks take and return.

Frozen dataclasses rather than pydantic models: these values cross a thread boundary
into plugin code and come back, so they must be immutable and cheap, and they are built
by the core from payloads it has already validated. Money is always ``Decimal`` (TEvo
sends decimal strings, docs/tevo-api.md §3.4); TEvo's ids are ``int``; the POS's own ids are
``str`` because every POS numbers things its own way. Every price travels with its ISO 4217
currency code (contract 2): TEvo trades in US dollars unless an order says otherwise, so a POS
that keeps several currencies never has to guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

__all__ = [
    "DEFAULT_CURRENCY",
    "HOLD_REFUSAL_REASONS",
    "TRANSFER_TYPES",
    "Availability",
    "Buyer",
    "Customer",
    "Hold",
    "HoldRefusal",
    "HoldResult",
    "Invoice",
    "Item",
    "MobileTransfer",
    "Order",
    "OrderEvent",
    "PosHealth",
    "PriceDecision",
    "Shipping",
    "StockListing",
    "TicketFile",
    "TransferType",
]

HoldRefusal = Literal["insufficient_quantity", "unknown_remote_id", "price_not_acceptable", "global_id_used"]
#: Why ``pos_hold`` refused. The first three are the reasons TEvo's Order Integration hold answer
#: carries (docs/tevo-api.md §7.3); ``global_id_used`` answers a replay of a global id whose hold was
#: already released, invoiced or expired, or that named other tickets.
HOLD_REFUSAL_REASONS: Final = frozenset(
    {"insufficient_quantity", "unknown_remote_id", "price_not_acceptable", "global_id_used"}
)

#: The currency of a price when TEvo names none: TEvo trades in US dollars (docs/tevo-api.md §3.4).
DEFAULT_CURRENCY: Final = "USD"

TransferType = Literal["TMMobileLink", "TMMobile", "FlashSeats", "Eticket"]
#: TEvo's ``mobile_transfer_type`` values (docs/tevo-api.md §5.6).
TRANSFER_TYPES: Final = frozenset({"TMMobileLink", "TMMobile", "FlashSeats", "Eticket"})


@dataclass(frozen=True, slots=True)
class Item:
    """One line of a TEvo order, or the tickets an Order Integration hold asks for.

    ``order_id`` is ``None`` while there is no order yet (an OI hold). ``item_id`` is TEvo's
    ``items[].id``; ``remote_id`` is ``ticket_group.remote_id``, the POS's own id for the ticket
    group and the key every POS lookup uses. ``price`` is per ticket, what TEvo pays.
    """

    order_id: int | None
    item_id: int
    remote_id: str
    quantity: int
    price: Decimal
    seats: tuple[str, ...] = ()
    ticket_group_id: int | None = None
    event_name: str = ""
    occurs_at: str = ""
    section: str = ""
    row: str = ""
    format: str = ""
    needs_eticket: bool = False
    #: The hold that reserved this line's tickets: the Order Integration hold the order came from,
    #: or the reservation the daemon made before accepting (see ``pos_hold``). ``None`` on a hold.
    global_id: str | None = None
    #: Contract 2: this line's share of the fees the buyer paid TEvo on top of ``price * quantity``
    #: (the order's ``service_fee``, split over its lines by their cost), for the POS invoice line.
    fees: Decimal = Decimal(0)
    #: Contract 2: the ISO 4217 code of ``price`` and ``fees``.
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, slots=True)
class Availability:
    """How many tickets of a group can still be sold; ``known=False`` for a remote id the POS lacks."""

    remote_id: str
    available: int
    known: bool = True


@dataclass(frozen=True, slots=True)
class PriceDecision:
    """Whether the POS sells at TEvo's price; ``reason`` is for the seller's audit log when it won't."""

    acceptable: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Buyer:
    """TEvo's ``buyer``: ``Office`` 6 is TEvo itself, a ``Client`` is a person (docs/tevo-api.md §3.5)."""

    type: str
    id: int
    name: str = ""
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    """The POS's record of a buyer; ``id`` is whatever the POS calls it."""

    id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Hold:
    """Tickets set aside until an invoice consumes them or a release frees them.

    Two kinds, one rule: an Order Integration hold (``global_id`` is TEvo's key linking hold,
    release and invoice; ``order_id`` is ``None``) and the reservation the daemon makes for a TEvo
    order before accepting it (``global_id`` is ``order-<order id>-item-<item id>-r<round>`` and
    ``order_id`` is set). Both compete for the same stock in the POS, which is the only place that
    can arbitrate between threads, processes and channels.
    """

    global_id: str
    remote_id: str
    quantity: int
    price: Decimal | None = None
    ticket_group_id: int | None = None
    expires_at: datetime | None = None
    order_id: int | None = None
    #: Contract 2: the ISO 4217 code of ``price``.
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, slots=True)
class HoldResult:
    """The answer to a hold. ``available`` is what remains after it (or what there was, if refused)."""

    held: bool
    hold_id: str | None = None
    available: int | None = None
    reason: HoldRefusal | None = None

    def __post_init__(self) -> None:
        # A refusal without a reason would reach TEvo as a bare 409; fail where the plugin made it.
        if not self.held and self.reason not in HOLD_REFUSAL_REASONS:
            raise ValueError(f"a refused hold needs a reason from {sorted(HOLD_REFUSAL_REASONS)}, got {self.reason!r}")
        if self.held and self.reason is not None:
            raise ValueError("a successful hold has no refusal reason")


@dataclass(frozen=True, slots=True)
class Shipping:
    """Contract 2: how TEvo delivers an order, and what the buyer paid for the delivery.

    ``method`` is TEvo's shipment type without its ``Delivery::`` prefix (``Eticket``, ``FedEx``,
    ``LocalPickup``, ``TBD``...); ``service_type`` is FedEx's service level when there is one.
    """

    method: str
    cost: Decimal = Decimal(0)
    service_type: str = ""
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, slots=True)
class Order:
    """A TEvo order to invoice; each item names the hold that reserved it (``Item.global_id``).

    The fields after ``total`` came with contract 2, all with defaults so that code building an
    ``Order`` the version 1 way keeps working: what a broker's invoice carries besides the lines.
    """

    order_id: int
    buyer: Buyer
    items: tuple[Item, ...]
    total: Decimal
    #: The order number TEvo shows people (``oid``, ``<order group>-<order id>``), "" if TEvo sent none.
    oid: str = ""
    #: TEvo's ``reference``: the buyer's own reference for the order, "" when there is none.
    reference: str = ""
    #: The ISO 4217 code of ``total``, ``service_fee`` and every price in the order.
    currency: str = DEFAULT_CURRENCY
    #: The fee the buyer paid TEvo on top of the tickets (already inside ``total``; split over ``Item.fees``).
    service_fee: Decimal = Decimal(0)
    #: How the tickets travel and what the buyer paid for it; ``None`` when TEvo named no shipment.
    shipping: Shipping | None = None
    #: TEvo's ``instructions`` and ``notes`` on the order, as text, for the invoice's memo.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Invoice:
    """The POS invoice for a TEvo order; ``created`` is False when an earlier call already made it."""

    invoice_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class TicketFile:
    """One PDF and which of its pages (1-based) is which seat; pages not named are not uploaded."""

    pdf: bytes
    seat_pages: Mapping[str, int]
    name: str = ""
    #: Where ``pdf`` was read from, when it came from a file: the daemon uses it only if it lies in
    #: ``[fulfillment] ticket_dirs`` (symlinks followed), so a row naming ``../../etc/...`` is refused.
    path: Path | None = None

    def __post_init__(self) -> None:
        # A caller must not be able to change which page is which seat after the plugin decided.
        object.__setattr__(self, "seat_pages", MappingProxyType(dict(self.seat_pages)))


@dataclass(frozen=True, slots=True)
class MobileTransfer:
    """How an item is transferred instead of shipped (docs/tevo-api.md §5.6).

    ``links`` are claim URLs (required for ``TMMobileLink``); ``transfer_source`` is one of TEvo's
    platform codes (``TM``, ``AXS``, ``SG``…).
    """

    transfer_type: TransferType
    links: tuple[str, ...] = ()
    transfer_source: str | None = None

    def __post_init__(self) -> None:
        if self.transfer_type not in TRANSFER_TYPES:
            raise ValueError(f"transfer_type must be one of {sorted(TRANSFER_TYPES)}, got {self.transfer_type!r}")
        # TEvo: "never complete a TMMobileLink shipment without a URL".
        if self.transfer_type == "TMMobileLink" and not self.links:
            raise ValueError("a TMMobileLink transfer needs at least one claim link")


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """A transition of an order in the seller-side state machine, for notification hooks."""

    order_id: int
    state: str
    previous_state: str | None
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))


@dataclass(frozen=True, slots=True)
class PosHealth:
    """What ``pos_health`` says: ``ok`` with no reason, or not ok and a short reason a seller can act on.

    ``ok is None`` is only ever the host's answer, never a plugin's: the plugin has no ``pos_health``,
    so health is unknown, which is not the same as failing.
    """

    ok: bool | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StockListing:
    """A ticket group the POS has on sale, as ``pos_list_stock`` reports it for a rehearsal.

    ``seats`` are the group's seat numbers (all of them, or only those still for sale); ``available``
    is how many can still be sold (on hand, less holds and sales). ``price`` is the least the POS sells one ticket for (what
    ``pos_accept_price`` checks). ``format`` is TEvo's: ``Eticket``, ``Physical``, ``TM_mobile``...
    """

    remote_id: str
    event_name: str
    venue: str
    occurs_at: str
    section: str
    row: str
    seats: tuple[str, ...]
    available: int
    price: Decimal
    format: str = "Eticket"
