"""The bodies of the API in openapi.yaml as pydantic models: the plugin validates every answer with them, the
reference server every request.

One module for both sides so that the plugin and the reference server cannot drift apart; the tests check both
against the OpenAPI document itself, which is what a broker implements.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ERROR_CODES", "AvailabilityAnswer", "BuyerBody", "CustomerAnswer", "CustomerRequest", "ErrorBody",
    "ErrorCode", "HealthAnswer", "HoldAnswer", "HoldRequest", "InvoiceAnswer", "InvoiceLine", "InvoiceRequest",
    "PriceAnswer", "ReleaseAnswer", "TicketFileBody", "TicketFilesAnswer", "VoidAnswer", "VoidRequest",
]

ErrorCode = Literal["bad_request", "unauthorized", "unknown_listing", "unknown_customer", "unknown_invoice",
                    "out_of_stock", "price_not_acceptable", "hold_closed", "not_ready", "file_unreadable",
                    "void_refused", "unavailable", "internal"]
ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))

Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
NonEmpty = Annotated[str, Field(min_length=1)]
#: TEvo's ids and counts fit a signed 64-bit integer (what SQLite and most databases store).
TevoId = Annotated[int, Field(ge=1, le=2**63 - 1)]
Quantity = Annotated[int, Field(ge=1, le=2**63 - 1)]


class _Answer(BaseModel):
    """An answer may carry fields this plugin does not know (a newer POS): ignored, not refused."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Request(BaseModel):
    """A request is ours: a field the API does not define is a mistake worth a 400."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorDetail(_Answer):
    code: str  # not ErrorCode: an unknown code from a newer POS is still an error, reported by its name
    message: str
    details: dict[str, object] = Field(default_factory=dict)


class ErrorBody(_Answer):
    error: ErrorDetail


class HealthAnswer(_Answer):
    ok: bool
    reason: str | None = None


class AvailabilityAnswer(_Answer):
    remote_id: str
    available: int = Field(ge=0)


class PriceAnswer(_Answer):
    acceptable: bool
    reason: str | None = None


class CustomerAnswer(_Answer):
    id: NonEmpty
    name: str = ""


class HoldAnswer(_Answer):
    hold_id: NonEmpty
    available: int = Field(ge=0)


class ReleaseAnswer(_Answer):
    released: bool


class InvoiceAnswer(_Answer):
    invoice_id: NonEmpty
    created: bool


class VoidAnswer(_Answer):
    invoice_id: str
    voided: Literal[True]


class TicketFileBody(_Answer):
    name: str
    seat_pages: dict[str, Annotated[int, Field(ge=1)]]
    pdf_base64: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TicketFileBody:
        if (self.pdf_base64 is None) == (self.url is None):
            raise ValueError("a file has exactly one of pdf_base64 and url")
        return self


class TicketFilesAnswer(_Answer):
    files: list[TicketFileBody]


class CustomerRequest(_Request):
    buyer_id: TevoId
    name: str
    email: str | None = None
    phone: str | None = None


class HoldRequest(_Request):
    global_id: NonEmpty
    remote_id: NonEmpty
    quantity: Quantity
    price: Money | None = None
    currency: Currency = "USD"
    ticket_group_id: TevoId | None = None
    expires_at: AwareDatetime | None = None
    order_id: TevoId | None = None


class InvoiceLine(_Request):
    item_id: TevoId
    remote_id: NonEmpty
    quantity: Quantity
    price: Money
    fees: Money = Decimal(0)
    seats: list[str] = Field(default_factory=list)
    global_id: str | None = None


class ShippingBody(_Request):
    method: str
    cost: Money = Decimal(0)
    service_type: str = ""


class BuyerBody(_Request):
    type: Literal["Office", "Client"]
    id: TevoId
    name: str = ""
    email: str | None = None
    phone: str | None = None


class InvoiceRequest(_Request):
    order_id: TevoId
    customer_id: str | None = None
    buyer: BuyerBody
    items: list[InvoiceLine] = Field(min_length=1)
    total: Money
    currency: Currency
    oid: str = ""
    reference: str = ""
    service_fee: Money = Decimal(0)
    shipping: ShippingBody | None = None
    notes: list[str] = Field(default_factory=list)


class VoidRequest(_Request):
    order_id: TevoId
    reason: str
