"""The broker's pages over the whole system on loopback (sandbox TEvo, daemon, SQLite POS), on both store backends:
a FedEx order's airbill, saved by the pipeline, prints from "To ship"; a local pickup shows its time and place;
search finds an order by the buyer TEvo named; the CSV has the order's real event and seats."""

from __future__ import annotations

import csv
import io
import re

import httpx

from tevo_bridge.loopback.stack import stack
from tevo_bridge.sandbox.scenarios import Channel, Scenario


def test_fedex_and_pickup_orders_wait_in_to_ship_and_the_airbill_prints(tmp_path):
    with stack(tmp_path, server={"admin_port": 0}) as run:
        fedex = run.sandbox.driver.create_sync(Scenario.FEDEX, [Channel.WEBHOOK])
        pickup = run.sandbox.driver.create_sync(Scenario.LOCAL_PICKUP, [Channel.WEBHOOK])
        ids = [fedex.order_id, pickup.order_id]
        assert run.wait_settled(ids, timeout=60) == {oid: "done" for oid in ids}
        with httpx.Client(base_url=run.daemon.admin_url, timeout=10) as http:
            page = http.get("/dashboard/handover").text
            links = re.findall(rf'href="(/dashboard/handover/{fedex.order_id}/airbill/\d+\.pdf)"', page)
            assert len(links) == 1, page
            airbill = http.get(links[0])
            assert airbill.status_code == 200 and airbill.content.startswith(b"%PDF")
            saved = list((tmp_path / "airbills").glob(f"{fedex.order_id}*.pdf"))
            assert [p.read_bytes() for p in saved] == [airbill.content]  # the very file the pipeline saved
            hand = page[page.index("To hand over"):]
            assert f"Order {pickup.order_id}" in hand and "Box Office" in hand

            snapshot = run.store.get_order(pickup.order_id).snapshot_json()
            name = snapshot["buyer"]["name"]
            found = http.get("/dashboard/search", params={"q": name.upper()[1:]})
            assert found.status_code == 200 and f"/dashboard/orders/{pickup.order_id}" in found.text

            rows = list(csv.DictReader(io.StringIO(http.get("/dashboard/orders.csv").content.decode("utf-8-sig"))))
            line = next(r for r in rows if r["TEvo order id"] == str(fedex.order_id))
            item = run.store.get_order(fedex.order_id).snapshot_json()["items"][0]
            assert line["event"] == item["ticket_group"]["event"]["name"] and line["state"] == "done"
            assert line["quantity"] == str(item["quantity"])
