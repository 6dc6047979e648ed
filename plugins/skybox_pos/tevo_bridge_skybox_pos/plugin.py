"""SkyBoxPos: the POS hooks over SkyBox's REST API (the work is in ``stock``, ``sales`` and ``files``)."""

from __future__ import annotations

from tevo_bridge import hookimpl
from tevo_bridge.pos import deadline
from tevo_bridge.pos.hookspecs import DEFAULT_BUDGETS
from tevo_bridge.pos.types import (
    Availability,
    Buyer,
    Customer,
    Hold,
    HoldResult,
    Invoice,
    Item,
    MobileTransfer,
    Order,
    PosHealth,
    PriceDecision,
    StockListing,
    TicketFile,
)
from tevo_bridge_skybox_pos import catalog, files
from tevo_bridge_skybox_pos.client import AuthFailed, Deadline, NotFound, SkyBoxClient, SkyBoxError
from tevo_bridge_skybox_pos.holds import StripedLocks
from tevo_bridge_skybox_pos.listings import resolve
from tevo_bridge_skybox_pos.sales import SalesDesk
from tevo_bridge_skybox_pos.settings import SkyBoxSettings
from tevo_bridge_skybox_pos.stock import StockDesk

__all__ = ["TEVO_BRIDGE_CONTRACT", "SkyBoxPos"]

#: The POS contract versions this plugin is built for (docs/plugins.md, "Contract versions").
TEVO_BRIDGE_CONTRACT = (2,)


def _deadline(hook: str) -> Deadline:
    """A little inside the time the host gives this call (``tevo_bridge.pos.deadline``: the configured budget,
    or less when TEvo waits), so the plugin gives up before the host abandons it; every request's timeout is
    cut to it. Outside a hook call (the plugin's own tools), the hook's default budget."""
    return Deadline(deadline.time_left(default=DEFAULT_BUDGETS[hook]) * 0.9)


class SkyBoxPos:
    """A seller's SkyBox account as the POS: listings, holds, customers, invoices and ticket files."""

    Config = SkyBoxSettings

    def __init__(self, config: SkyBoxSettings) -> None:
        self.settings = config
        self.client = SkyBoxClient(config)
        self.stock = StockDesk(self.client, StripedLocks())
        self.sales = SalesDesk(self.client, self.stock)
        if config.verify_on_start:
            self.account = self.verify()

    def verify(self, seconds: float | None = None) -> dict[str, object]:
        """``GET /account``: proves all three headers; a refusal says which one to look at."""
        try:
            account = self.client.get("/account", deadline=Deadline(seconds or self.settings.read_timeout))
        except NotFound:
            raise AuthFailed(f"SkyBox found no account {self.settings.account_id}: the tokens were accepted, so "
                             "X-Account is wrong; fix [plugins.skybox_pos] account_id") from None
        except AuthFailed:
            raise AuthFailed("SkyBox refused X-Api-Token or X-Application-Token (401 on GET /account): set "
                             "TEVO_BRIDGE_PLUGINS__SKYBOX_POS__API_TOKEN and ..._APPLICATION_TOKEN to the tokens "
                             "SkyBox issued for this account") from None
        return account if isinstance(account, dict) else {}

    @hookimpl
    def pos_health(self) -> PosHealth:
        """The cheapest authenticated call, ``GET /account``: proves the tokens, the account and the network."""
        try:
            self.verify(max(min(self.settings.read_timeout, _deadline("pos_health").left()), 0.001))
        except SkyBoxError as exc:
            return PosHealth(False, self.client.mask(str(exc)))
        return PosHealth(True)

    @hookimpl
    def pos_shutdown(self) -> None:
        self.client.close()

    @hookimpl
    def pos_check_inventory(self, item: Item) -> Availability:
        return self.stock.availability(item, _deadline("pos_check_inventory"))

    @hookimpl
    def pos_accept_price(self, item: Item) -> PriceDecision:
        listing = resolve(self.client, item.remote_id, _deadline("pos_accept_price"))
        if listing is None:
            return PriceDecision(False, f"remote_id {item.remote_id!r} is not a SkyBox listing")
        return listing.price_decision(item.price, self.settings, item.remote_id)

    @hookimpl
    def pos_find_customer(self, buyer: Buyer) -> Customer | None:
        return self.sales.find_customer(buyer, _deadline("pos_find_customer"))

    @hookimpl
    def pos_create_customer(self, buyer: Buyer) -> Customer:
        return self.sales.create_customer(buyer, _deadline("pos_create_customer"))

    @hookimpl
    def pos_hold(self, hold: Hold) -> HoldResult:
        return self.stock.hold(hold, _deadline("pos_hold"))

    @hookimpl
    def pos_release_hold(self, hold: Hold) -> bool:
        return self.stock.release(hold, _deadline("pos_release_hold"))

    @hookimpl
    def pos_create_invoice(self, order: Order, customer: Customer | None) -> Invoice:
        return self.sales.create_invoice(order, customer, _deadline("pos_create_invoice"))

    @hookimpl
    def pos_void_invoice(self, order: Order, invoice_id: str, reason: str) -> None:
        self.sales.void_invoice(order, invoice_id, reason, _deadline("pos_void_invoice"))

    @hookimpl
    def pos_ticket_files(self, order: Order, item: Item) -> list[TicketFile] | None:
        return files.ticket_files(self.client, self.sales, order, item, _deadline("pos_ticket_files"))

    @hookimpl
    def pos_mobile_transfer(self, order: Order, item: Item) -> MobileTransfer | None:
        return files.mobile_transfer(self.client, self.sales, order, item, _deadline("pos_mobile_transfer"))

    @hookimpl
    def pos_list_stock(self) -> list[StockListing]:
        return catalog.list_stock(self.client, _deadline("pos_list_stock"))
