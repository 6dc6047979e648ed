"""Delivery checked page by page at TEvo, broken ticket files, and orders TEvo cancels under our feet."""

from __future__ import annotations

import io
import json
import os
import re

from pypdf import PdfReader
from typer.testing import CliRunner

from tests.e2e.test_exactly_once import send_webhook
from tevo_bridge.cli import app
from tevo_bridge.loopback.stack import stack, webhook_form
from tevo_bridge.sandbox.orders import ItemRequest, OrderRequest
from tevo_bridge.sandbox.scenarios import Channel, Scenario


def delivered_seats(run, item_id: int) -> list[str]:
    final = run.sandbox.world.item_files(item_id).final
    pages = PdfReader(io.BytesIO(final)).pages
    return [" ".join(re.findall(r"SEAT (\S+)", page.extract_text())) for page in pages]


def test_only_the_ordered_seats_pages_reach_tevo_from_a_pdf_with_cover_advert_and_other_seats(tmp_path):
    with stack(tmp_path) as run:
        made = run.sandbox.driver.create_sync(Scenario.PAGE_SELECTION, [Channel.WEBHOOK])
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        order = run.sandbox.world.order(made.order_id)
        item = order["items"][0]
        ordered = [t["seat"] for t in item["ticket_group"]["tickets"]]
        listing_seats = run.pos("SELECT seats FROM ticket_groups WHERE remote_id = ?",
                                item["ticket_group"]["remote_id"])[0][0]
        assert len(ordered) < len(json.loads(listing_seats))  # the PDF has other seats too
        assert delivered_seats(run, item["id"]) == ordered  # exactly those pages, one seat each, in order


def test_a_corrupt_ticket_pdf_sends_the_order_to_review_naming_the_item(tmp_path):
    with stack(tmp_path) as run:
        remote_id = "88702"
        (path,) = run.pos("SELECT eticket_pdf FROM ticket_groups WHERE remote_id = ?", remote_id)[0]
        open(path, "wb").write(b"%PDF-1.4 this is not a pdf")
        group = next(g for g in run.sandbox.driver.planner.inventory if g.remote_id == remote_id)
        request = OrderRequest(items=[ItemRequest(group, 2, group.wholesale_price, group.seats[:2])])
        order = run.sandbox.create_order(request)
        send_webhook(run, webhook_form(order))
        assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
        error = run.store.get_order(order["id"]).last_error
        assert f"item {order['items'][0]['id']}" in error
        (item,) = run.sandbox.inspect(order["id"])["items"].values()
        assert not item["finalized"] and item["uploads"] == 0  # nothing half-delivered


def test_an_order_canceled_at_tevo_before_we_act_is_canceled_and_not_invoiced(tmp_path):
    with stack(tmp_path) as run:
        group = next(g for g in run.sandbox.driver.planner.inventory if g.remote_id == "88640")
        order = run.sandbox.create_order(OrderRequest(items=[ItemRequest(group, 2, group.wholesale_price,
                                                                          group.seats[:2])]))
        run.sandbox.world.cancel_order(order["id"])
        send_webhook(run, webhook_form(order))  # the webhook still says pending: a hint, re-fetched
        assert run.wait_settled([order["id"]])[order["id"]] == "canceled"
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 0 and run.invoices_for(order["id"]) == 0


def test_operator_cli_lists_shows_and_retries(tmp_path):
    with stack(tmp_path) as run:
        made = run.sandbox.driver.create_sync(Scenario.UNDERPRICED, [Channel.WEBHOOK])
        run.wait_settled([made.order_id])
        config = tmp_path / "cli.toml"
        config.write_text(run.store_toml())
        runner = CliRunner()
        listed = runner.invoke(app, ["orders", "list", "--config", str(config), "--json"])
        assert listed.exit_code == 0 and f'"id": {made.order_id}' in listed.output and '"rejected"' in listed.output
        shown = runner.invoke(app, ["orders", "show", str(made.order_id), "--config", str(config)])
        assert shown.exit_code == 0 and "Tickets Priced Incorrectly" in shown.output and "-> rejected" in shown.output
        retried = runner.invoke(app, ["orders", "retry", str(made.order_id), "--config", str(config)])
        assert retried.exit_code == 2 and "is rejected: a retry would change nothing" in retried.output
        redelivered = runner.invoke(app, ["orders", "retry", str(made.order_id), "--redeliver", "--config", str(config)])
        assert redelivered.exit_code == 2, "--redeliver is for done orders only"
        assert run.store.get_order(made.order_id).state == "rejected"
        missing = runner.invoke(app, ["orders", "show", "1", "--config", str(config)])
        assert missing.exit_code == 2 and "not in the store" in missing.output


def test_a_webhook_naming_only_the_order_group_finds_the_order(tmp_path):
    from urllib.parse import urlencode

    with stack(tmp_path) as run:
        group = next(g for g in run.sandbox.driver.planner.inventory if g.remote_id == "88731")
        order = run.sandbox.create_order(OrderRequest(items=[ItemRequest(group, 2, group.wholesale_price,
                                                                          group.seats[:2])]))
        order_group_id = order["oid"].strip().split("-")[0]
        form = urlencode({"order_group_id": order_group_id, "recipient": "seller", "event_type": "order_created",
                          "body": "{}"}).encode()
        send_webhook(run, form)
        assert run.wait_for(lambda: run.state(order["id"]) == "done")
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 1


def test_a_ticket_pdf_moved_away_sends_the_order_to_review_at_once_naming_the_path(tmp_path):
    with stack(tmp_path) as run:
        remote_id = "88702"
        (path,) = run.pos("SELECT eticket_pdf FROM ticket_groups WHERE remote_id = ?", remote_id)[0]
        os.rename(path, tmp_path / "moved-away.pdf")
        group = next(g for g in run.sandbox.driver.planner.inventory if g.remote_id == remote_id)
        request = OrderRequest(items=[ItemRequest(group, 2, group.wholesale_price, group.seats[:2])])
        order = run.sandbox.create_order(request)
        send_webhook(run, webhook_form(order))
        assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
        error = run.store.get_order(order["id"]).last_error
        # before: a raw FileNotFoundError, retried through every attempt in `checking`
        assert f"ticket file {path} cannot be read (No such file or directory). Fix:" in error, error
        assert f"where it is now. Then run `tevo-bridge orders retry {order['id']}`" in error
        trail = [a.reason or "" for a in run.store.audit_trail(order["id"])]
        assert not any("FileNotFoundError" in reason for reason in trail), trail
        assert run.sandbox.world.order(order["id"])["seller_state"] == "pending"  # refused before accepting
