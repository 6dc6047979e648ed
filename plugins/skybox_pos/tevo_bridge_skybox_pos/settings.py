"""``[plugins.skybox_pos]``: where SkyBox is, who we are there, and the choices SkyBox leaves to us.

The two tokens are secrets: set them in the environment
(``TEVO_BRIDGE_PLUGINS__SKYBOX_POS__API_TOKEN``, ``..._APPLICATION_TOKEN``) rather than the file.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["PaymentMethod", "SkyBoxSettings"]

#: ``Customer.paymentMethod`` as SkyBox's model allows it (skybox_models.json): SkyBox refuses any other value
#: on every customer the plugin would create, so a misspelt one is refused when the config is read instead.
PaymentMethod = Literal["CREDITCARD", "CASH", "CHECK", "PAYPAL", "TRADE", "VENMO", "OTHER", "ACCRUEDCREDIT", "ACH",
                        "AR", "AP", "EVOPAY", "MULTIPLE", "COMPLIMENTARY", "CUSTOMER_CREDIT", "ZELLE"]


class SkyBoxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://skybox.vividseats.com/services"
    #: Sent as ``X-Account``.
    account_id: int = Field(ge=1)
    #: Sent as ``X-Api-Token`` (SkyBox: "Logged In As" → External Accounts → "API Invitation +").
    api_token: SecretStr
    #: Sent as ``X-Application-Token`` (requested at skybox.vividseats.com/application-sign-up).
    application_token: SecretStr
    #: The SkyBox customer that sales to TEvo itself are invoiced to; when unset, the account's default
    #: customer for the TICKET_EVOLUTION marketplace (``GET /customers/defaults``).
    tevo_customer_id: int | None = Field(default=None, ge=1)
    #: Which per-ticket price is the floor TEvo's price must reach: the listing's ``listPrice``, its
    #: ``cost``, or none (``any``), less ``price_tolerance_percent``.
    price_rule: Literal["list_price", "cost", "any"] = "list_price"
    price_tolerance_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    #: Expiry given to a SkyBox hold when TEvo's hold names none.
    hold_expiry_minutes: int = Field(default=30, ge=1, le=24 * 60)
    #: A hold answers within this many seconds (TEvo's buyer waits; the hook's budget is 3 s): past it the
    #: answer is "unavailable" and any hold SkyBox made late is deleted in the background.
    hold_deadline_seconds: float = Field(default=2.5, gt=0)
    connect_timeout: float = Field(default=2.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    #: Calls per second allowed to each endpoint family (``GET /holds``, ``POST /invoices``…), and the burst.
    calls_per_second: float = Field(default=20.0, gt=0)
    burst: int = Field(default=10, ge=1)
    #: How often expired holds of ours are deleted (SkyBox may never free them by itself).
    expired_hold_sweep_seconds: float = Field(default=2.0, ge=0)
    #: Sent with invoices that consume our own hold (``POST /invoices?force=true``).
    force_held_invoices: bool = True
    #: The largest page asked for; smaller pages are followed until ``rowCount`` or a short page.
    page_size: int = Field(default=100, ge=1, le=1000)
    currency: Literal["USD", "CAD", "EUR", "GBP", "JPY", "BRL", "XBT", "AUD", "MXN"] = "USD"
    #: ``paymentMethod`` of the customers created for TEvo clients (one of SkyBox's ``PaymentMethod`` values).
    client_payment_method: PaymentMethod = "OTHER"
    #: The platform (TEvo's code: TM, AXS…) of listings whose stockType is MOBILE_TRANSFER.
    mobile_transfer_source: str = "TM"
    #: Also accept a TEvo ``remote_id`` that is a SkyBox inventory id, when no listing has it as
    #: ``exchangePosId`` (now or before).
    match_inventory_id: bool = True
    #: Prove the credentials with ``GET /account`` when the plugin starts (``check --online`` does).
    verify_on_start: bool = True

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL, e.g. https://skybox.vividseats.com/services")
        return value.rstrip("/")

    def secrets(self) -> list[str]:
        return [self.api_token.get_secret_value(), self.application_token.get_secret_value()]
