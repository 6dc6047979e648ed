"""A small in-memory TEvo behind ``httpx.MockTransport``: the rules fulfilment must respect, and nothing more.

Rules enforced (docs/tevo-api.md §4–§5), each answered the way TEvo answers (a 422 with field errors, or a 404):
- item URLs take ``items[].id``; a ``deliver_etickets`` body names ``order_item_id``;
- uploaded files are merged into one document, pages numbered 1..N in upload order;
- finalize needs ``1 <= page <= N`` and ``len(keep_pages) == quantity`` unless ``ignore_quantity``;
- add, remove or deliver after finalize is refused;
- a whole-file delivery must hold exactly the item's quantity of pages;
- ``PUT /v9/shipments/:id`` replaces the shipment under a new id, the old id answers 404, items follow;
- a local pickup update needs its four required fields; a mobile transfer type applies only to TBD;
- completing a TBD shipment, completing twice, or a TMMobileLink without ``tm_mobile_link`` is a 422;
- an airbill is generated once, for FedEx only; Get Airbill answers a PDF (or JSON holding a URL);
- every request is signed (a bad signature is a 401, as TEvo answers it).

Faults: ``fail(endpoint, when="after")`` applies the call and then loses the answer (a read timeout, so the
client raises ``OutcomeUnknown``); ``when="before"`` loses it before TEvo acts; ``error="die"`` raises
``ProcessDied`` instead, which simulates the bridge process dying at that point; ``error="refuse"`` answers a
422 without acting.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from tevo_bridge.tevo.client import TevoClient
from tevo_bridge.tevo.signing import request_string_to_sign, x_signature

BASE_URL = "https://api.fake-tevo.test"
TOKEN = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4"
SECRET = "fake-secret-fake-secret-fake-secret-0000"
MOBILE_TYPES = {"TMMobileLink", "TMMobile", "FlashSeats", "Eticket"}


class ProcessDied(Exception):
    """The bridge 'dies' here: raised out of the HTTP call, past every handler, like a killed process."""


@dataclass
class Fault:
    when: Literal["before", "after"]
    error: Literal["timeout", "die", "refuse"]


@dataclass
class Call:
    method: str
    path: str
    endpoint: str
    body: Any
    size: int


def _pages_of(pdf: bytes) -> list[bytes]:
    reader = PdfReader(io.BytesIO(pdf))
    pages = []
    for page in reader.pages:
        writer = PdfWriter()
        writer.add_page(page)
        buffer = io.BytesIO()
        writer.write(buffer)
        pages.append(buffer.getvalue())
    return pages


def page_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _airbill_pdf(tracking: str) -> bytes:
    buffer = io.BytesIO()
    drawing = canvas.Canvas(buffer, invariant=1)
    drawing.drawString(72, 720, f"FedEx airbill {tracking}")
    drawing.showPage()
    drawing.save()
    return buffer.getvalue()


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def _unprocessable(field: str, message: str) -> _Refused:
    return _Refused(422, {"errors": {field: [message]}})


def _not_found() -> _Refused:
    return _Refused(404, {"error": "Not Found"})


class FakeTevo:
    def __init__(self, airbill_format: Literal["pdf", "json"] = "pdf") -> None:
        self.orders: dict[int, dict[str, Any]] = {}
        self.shipments: dict[int, dict[str, Any]] = {}
        self.shipment_order: dict[int, int] = {}
        self.uploaded: dict[int, list[bytes]] = {}  # item id → the merged document, one PDF per page
        self.delivered: dict[int, list[bytes]] = {}  # item id → the finalized pages, one PDF per page
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.airbill_format = airbill_format
        self.airbill_files: dict[str, bytes] = {}
        self._next_id = 900_001

    # Set-up ---------------------------------------------------------------------------------------

    def add_order(self, order: dict[str, Any], seller_state: str = "accepted") -> int:
        order = copy.deepcopy(order)
        order["seller_state"] = seller_state
        for shipment in order.pop("shipments", []):
            self.shipments[shipment["id"]] = shipment
            self.shipment_order[shipment["id"]] = order["id"]
        self.orders[order["id"]] = order
        return order["id"]

    def fail(self, endpoint: str, when: Literal["before", "after"] = "after",
             error: Literal["timeout", "die", "refuse"] = "timeout") -> None:
        self.faults.setdefault(endpoint, []).append(Fault(when, error))

    def client(self) -> TevoClient:
        return TevoClient(BASE_URL, TOKEN, SECRET, transport=httpx.MockTransport(self.handle))

    # Views ----------------------------------------------------------------------------------------

    def item(self, item_id: int) -> dict[str, Any]:
        for order in self.orders.values():
            for item in order["items"]:
                if item["id"] == item_id:
                    return item
        raise KeyError(item_id)

    def order_shipments(self, order_id: int) -> list[dict[str, Any]]:
        return [s for sid, s in self.shipments.items() if self.shipment_order[sid] == order_id]

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    def order_json(self, order_id: int) -> dict[str, Any]:
        order = copy.deepcopy(self.orders[order_id])
        order["shipments"] = copy.deepcopy(self.order_shipments(order_id))
        return order

    # Transport --------------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        expected = x_signature(SECRET, request_string_to_sign(request))
        if request.headers.get("X-Token") != TOKEN or request.headers.get("X-Signature") != expected:
            return httpx.Response(401, json={"error": "Your signature is incorrect. Please ensure you are "
                                                      "generating it correctly"})
        path = request.url.path.removeprefix("/v9")
        body = json.loads(request.content) if request.content else None
        route = self._route(request.method, path)
        if route is None:
            return httpx.Response(404, json={"error": "Not Found"})
        endpoint, handler, args = route
        self.calls.append(Call(request.method, path, endpoint, body, len(request.content)))
        faults = self.faults.get(endpoint)
        fault = faults.pop(0) if faults else None
        if fault and fault.error == "refuse":
            return httpx.Response(422, json={"errors": {"base": ["refused (injected fault)"]}})
        if fault and fault.when == "before":
            self._raise(fault, request)
        try:
            response = handler(body, *args)
        except _Refused as refused:
            response = httpx.Response(refused.status, json=refused.body)
        if fault and fault.when == "after":
            self._raise(fault, request)
        return response

    @staticmethod
    def _raise(fault: Fault, request: httpx.Request) -> None:
        if fault.error == "die":
            raise ProcessDied(f"{request.method} {request.url.path}")
        raise httpx.ReadTimeout("answer lost", request=request)

    def _route(self, method: str, path: str) -> tuple[str, Callable[..., httpx.Response], tuple[int, ...]] | None:
        table: list[tuple[str, str, str, Callable[..., httpx.Response]]] = [
            ("GET", r"/orders/(\d+)", "orders.show", self._show_order),
            ("GET", r"/orders/(\d+)/items/(\d+)", "items.show", self._show_item),
            ("POST", r"/orders/(\d+)/items/(\d+)/add_etickets", "items.add_etickets", self._add),
            ("POST", r"/orders/(\d+)/items/(\d+)/finalize_etickets", "items.finalize_etickets", self._finalize),
            ("GET", r"/orders/(\d+)/items/(\d+)/remove_etickets", "items.remove_etickets", self._remove),
            ("POST", r"/orders/(\d+)/deliver_etickets", "orders.deliver_etickets", self._deliver),
            ("GET", r"/shipments/(\d+)", "shipments.show", self._show_shipment),
            ("PUT", r"/shipments/(\d+)", "shipments.update", self._update_shipment),
            ("PUT", r"/shipments/(\d+)/complete", "shipments.complete", self._complete),
            ("POST", r"/shipments/(\d+)/airbill", "shipments.airbill", self._generate_airbill),
            ("GET", r"/shipments/(\d+)/get_airbill", "shipments.get_airbill", self._get_airbill),
        ]
        for verb, pattern, endpoint, handler in table:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return endpoint, handler, tuple(int(g) for g in match.groups())
        return None

    # Orders and items (§3, §4) ------------------------------------------------------------------------

    def _order(self, order_id: int) -> dict[str, Any]:
        if order_id not in self.orders:
            raise _not_found()
        return self.orders[order_id]

    def _order_item(self, order_id: int, item_id: int) -> dict[str, Any]:
        # Item URLs take items[].id, never order_item_id (§4 decision).
        for item in self._order(order_id)["items"]:
            if item["id"] == item_id:
                return item
        raise _not_found()

    def _show_order(self, _body: Any, order_id: int) -> httpx.Response:
        self._order(order_id)
        return httpx.Response(200, json=self.order_json(order_id))

    def _show_item(self, _body: Any, order_id: int, item_id: int) -> httpx.Response:
        return httpx.Response(200, json=self._order_item(order_id, item_id))

    def _add(self, body: Any, order_id: int, item_id: int) -> httpx.Response:
        item = self._order_item(order_id, item_id)
        if item["eticket_finalized"]:
            raise _unprocessable("etickets", "have already been finalized")
        files = (body or {}).get("files") or []
        if not files:
            raise _unprocessable("files", "can't be blank")
        pages = self.uploaded.setdefault(item_id, [])
        for encoded in files:
            try:
                pages.extend(_pages_of(base64.b64decode(encoded, validate=True)))
            except Exception:
                raise _unprocessable("files", "must be PDF documents") from None
        item["eticket_pdf_pages"] = len(pages)
        return httpx.Response(200, json=item)

    def _finalize(self, body: Any, order_id: int, item_id: int) -> httpx.Response:
        item = self._order_item(order_id, item_id)
        if item["eticket_finalized"]:
            raise _unprocessable("etickets", "have already been finalized")
        pages = self.uploaded.get(item_id) or []
        keep = (body or {}).get("keep_pages")
        if not pages:
            raise _unprocessable("etickets", "no files have been uploaded")
        if not isinstance(keep, list) or not keep:
            raise _unprocessable("keep_pages", "can't be blank")
        if any(not isinstance(p, int) or not 1 <= p <= len(pages) for p in keep):
            raise _unprocessable("keep_pages", f"must be between 1 and {len(pages)}")
        if len(keep) != item["quantity"] and not body.get("ignore_quantity"):
            raise _unprocessable("keep_pages", f"{len(keep)} pages kept for a quantity of {item['quantity']}")
        self._mark_delivered(order_id, item, [pages[p - 1] for p in keep])
        return httpx.Response(200, json=item)

    def _remove(self, _body: Any, order_id: int, item_id: int) -> httpx.Response:
        item = self._order_item(order_id, item_id)
        if item["eticket_finalized"]:
            raise _unprocessable("etickets", "have already been finalized")
        self.uploaded.pop(item_id, None)
        item["eticket_pdf_pages"] = None
        return httpx.Response(200, json=item)

    def _deliver(self, body: Any, order_id: int) -> httpx.Response:
        order = self._order(order_id)
        for entry in (body or {}).get("etickets") or []:
            # The body names the item by order_item_id (§4 decision); items[].id is not accepted here.
            item = next((i for i in order["items"] if i["order_item_id"] == entry.get("item_id")), None)
            if item is None:
                raise _unprocessable("item_id", "is not an order_item_id of this order")
            if item["eticket_finalized"]:
                raise _unprocessable("etickets", "have already been finalized")
            try:
                pages = _pages_of(base64.b64decode(entry.get("eticket") or "", validate=True))
            except Exception:
                raise _unprocessable("eticket", "must be a PDF document") from None
            if len(pages) != item["quantity"]:
                raise _unprocessable("eticket", f"has {len(pages)} pages for a quantity of {item['quantity']}")
            self._mark_delivered(order_id, item, pages)
        return httpx.Response(200, json={"result": "success"})

    def _mark_delivered(self, order_id: int, item: dict[str, Any], pages: list[bytes]) -> None:
        item["eticket_finalized"] = True
        item["needs_eticket"] = False
        item["eticket_pdf_pages"] = len(pages)
        self.delivered[item["id"]] = pages
        order = self.orders[order_id]
        shipments = self.order_shipments(order_id)
        if all(i["eticket_finalized"] for i in order["items"]) and all(s["type"] == "Eticket" for s in shipments):
            order["seller_state"] = "completed"  # "the e-tickets were uploaded" (§3.3)

    # Shipments (§5) -----------------------------------------------------------------------------------

    def _shipment(self, shipment_id: int) -> dict[str, Any]:
        if shipment_id not in self.shipments:
            raise _not_found()
        return self.shipments[shipment_id]

    def _show_shipment(self, _body: Any, shipment_id: int) -> httpx.Response:
        return httpx.Response(200, json=self._shipment(shipment_id))

    def _update_shipment(self, body: Any, shipment_id: int) -> httpx.Response:
        old = self._shipment(shipment_id)
        fields = dict(body or {})
        new = copy.deepcopy(old)
        kind = old["type"].lower()
        if "mobile_transfer_type" in fields:
            wanted = fields.pop("mobile_transfer_type")
            if kind != "tbd":
                raise _unprocessable("mobile_transfer_type", f"cannot be set on a {old['type']} shipment")
            if wanted not in MOBILE_TYPES:
                raise _unprocessable("mobile_transfer_type", "is not included in the list")
            new["type"] = wanted
            new["mobile_transfer_type"] = wanted
        if kind == "localpickup":
            for required in ("ship_from_name", "ship_from_phone_number_attributes", "ship_from_address_attributes",
                             "pickup_time_range"):
                if not fields.get(required):
                    raise _unprocessable(required, "can't be blank")
            if not fields["ship_from_phone_number_attributes"].get("number"):
                raise _unprocessable("ship_from_phone_number_attributes", "number can't be blank")
            new["ship_from_phone_number"] = fields.pop("ship_from_phone_number_attributes")
            new["ship_from_address"] = fields.pop("ship_from_address_attributes")
        new.update(fields)
        # Update replaces: the old shipment is deleted and a new one, with a new id, holds the items (§5.3).
        new["id"] = self._next_id
        new["url"] = f"/shipment/{self._next_id}"
        new["state"] = "pending"
        self._next_id += 1
        order_id = self.shipment_order.pop(shipment_id)
        del self.shipments[shipment_id]
        self.shipments[new["id"]] = new
        self.shipment_order[new["id"]] = order_id
        for item in self.orders[order_id]["items"]:
            if item["delivery_id"] == shipment_id:
                item["delivery_id"] = new["id"]
        return httpx.Response(200, json=new)

    def _complete(self, body: Any, shipment_id: int) -> httpx.Response:
        shipment = self._shipment(shipment_id)
        body = body or {}
        if shipment["type"].lower() == "tbd":
            raise _unprocessable("mobile_transfer_type", "must be chosen before completing")
        if shipment["state"] == "delivered":
            raise _unprocessable("state", "is already delivered")
        if shipment["type"] == "TMMobileLink" and not body.get("tm_mobile_link"):
            raise _unprocessable("tm_mobile_link", "can't be blank")
        shipment["state"] = "delivered"
        shipment["tm_mobile_link"] = body.get("tm_mobile_link")
        shipment["transfer_source"] = body.get("transfer_source")
        self.orders[self.shipment_order[shipment_id]]["seller_state"] = "completed"
        return httpx.Response(200, json=shipment)

    def _generate_airbill(self, _body: Any, shipment_id: int) -> httpx.Response:
        shipment = self._shipment(shipment_id)
        if shipment["type"] != "FedEx":
            raise _unprocessable("type", "airbills are generated for FedEx shipments only")
        if shipment.get("airbill"):
            raise _unprocessable("airbill", "has already been generated")
        tracking = f"7946{shipment_id:08d}"
        url = f"https://files.fake-tevo.test/airbills/{shipment_id}.pdf"
        shipment["tracking_number"] = tracking
        shipment["airbill"] = url
        shipment["state"] = "in_transit"
        self.airbill_files[url] = _airbill_pdf(tracking)
        return httpx.Response(200, json=shipment)

    def _get_airbill(self, _body: Any, shipment_id: int) -> httpx.Response:
        shipment = self._shipment(shipment_id)
        if not shipment.get("airbill"):
            raise _not_found()
        if self.airbill_format == "json":
            return httpx.Response(200, json={"airbill": shipment["airbill"],
                                             "tracking_number": shipment["tracking_number"]})
        return httpx.Response(200, content=self.airbill_files[shipment["airbill"]],
                              headers={"Content-Type": "application/pdf"})

    async def download(self, url: str) -> bytes:
        """The file store an airbill URL points at."""
        return self.airbill_files[url]
