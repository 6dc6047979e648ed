"""Nothing accepted that cannot be delivered, and every retry continues from where the order really is.

Each test is one reproduction from the production-trust issue, run through the real daemon, the
sandbox and the SQLite POS, with the cause fixed the way a seller would fix it.
"""

from __future__ import annotations

import threading

from tevo_bridge_sqlite_pos.plugin import SqlitePos
from typer.testing import CliRunner

from tests.e2e.test_exactly_once import send_webhook
from tevo_bridge import hookimpl
from tevo_bridge.cli import app
from tevo_bridge.loopback.stack import Stack, stack, webhook_form
from tevo_bridge.pos.errors import TicketsNotReady
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.orders import ItemRequest, OrderRequest

RECHECK = {"recheck_seconds": 0.3}


def order_of(run: Stack, remote_id: str, quantity: int = 2, shipment: str = "Eticket") -> dict:
    group = next(g for g in run.sandbox.driver.planner.inventory if g.remote_id == remote_id)
    request = OrderRequest(items=[ItemRequest(group, quantity, group.wholesale_price, group.seats[:quantity])],
                           shipment_type=shipment)
    order = run.sandbox.create_order(request)
    send_webhook(run, webhook_form(order))
    return order


def reservations(run: Stack, order: dict) -> list[tuple[str, str]]:
    return run.pos("SELECT global_id, state FROM holds WHERE global_id LIKE ? ORDER BY global_id",
                   f"order-{order['id']}-%")


def retry(run: Stack, order_id: int, *flags: str):
    config = run.tmp / "cli.toml"
    config.write_text(run.store_toml())
    return CliRunner().invoke(app, ["orders", "retry", str(order_id), *flags, "--config", str(config)])


def test_a_bad_ticket_pdf_is_found_before_accepting_and_a_retry_after_the_fix_delivers(tmp_path):
    with stack(tmp_path) as run:
        (path,) = run.pos("SELECT eticket_pdf FROM ticket_groups WHERE remote_id = ?", "88702")[0]
        good = open(path, "rb").read()
        open(path, "wb").write(b"%PDF-1.4 this is not a pdf")
        order = order_of(run, "88702")
        assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
        row = run.store.get_order(order["id"])
        assert "not accepted" in row.last_error and f"item {order['items'][0]['id']}" in row.last_error
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 0, "accepted an order it could not deliver"
        assert [state for _, state in reservations(run, order)] == ["released"], "tickets kept from other buyers"

        open(path, "wb").write(good)  # the seller fixes the file
        assert retry(run, order["id"]).exit_code == 0
        assert run.wait_settled([order["id"]])[order["id"]] == "done"
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 1
        item = order["items"][0]["id"]
        assert reservations(run, order) == [(f"order-{order['id']}-item-{item}-r0", "released"),
                                            (f"order-{order['id']}-item-{item}-r1", "invoiced")]


def test_a_local_pickup_order_is_not_accepted_without_the_pickup_details(tmp_path):
    with stack(tmp_path, fulfillment={"local_pickup": {}}) as run:
        order = order_of(run, "88213", shipment="LocalPickup")
        assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
        error = run.store.get_order(order["id"]).last_error
        assert "[fulfillment.local_pickup]" in error and "contact_name" in error
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 0
        assert [state for _, state in reservations(run, order)] == ["released"]


def test_tickets_not_in_hand_are_accepted_then_wait_visibly_until_the_pos_has_the_files(tmp_path):
    inventory = [g if g.remote_id != "88702" else _not_in_hand(g) for g in demo_inventory()]
    with stack(tmp_path, inventory=inventory, pipeline=RECHECK) as run:
        (path,) = run.pos("SELECT eticket_pdf FROM ticket_groups WHERE remote_id = ?", "88702")[0]
        run.pos_write("UPDATE ticket_groups SET eticket_pdf = NULL WHERE remote_id = ?", "88702")
        order = order_of(run, "88702")
        assert run.wait_for(lambda: run.state(order["id"]) == "awaiting_tickets")
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 1
        job = run.store.job_for_order(order["id"])
        assert job["state"] in ("queued", "running") and job["attempts"] == 0, "a wait is not a failure"

        run.pos_write("UPDATE ticket_groups SET eticket_pdf = ? WHERE remote_id = ?", path, "88702")
        assert run.wait_settled([order["id"]])[order["id"]] == "done"
        (item,) = run.sandbox.inspect(order["id"])["items"].values()
        assert item["finalized"]


class FilesGoMissing(SqlitePos):
    """The SQLite POS whose ticket files are not ready at the pre-accept check and missing when fulfilment asks,
    until the seller restores them. (Files the check read are uploaded by the same job run without asking again,
    so a delivery that fails after the accept needs the check to have had none.)"""

    missing = threading.Event()
    calls = 0

    @hookimpl
    def pos_ticket_files(self, order, item):
        type(self).calls += 1
        if type(self).calls == 1:  # the pre-accept check: the order is accepted, and waits for its files
            raise TicketsNotReady("the seller uploads them later (injected)")
        if type(self).calls > 1 and not self.missing.is_set():
            self.missing.set()  # from the second call on: fulfilment's
        if self.missing.is_set():
            raise FileNotFoundError("tickets/88702.pdf: No such file or directory (injected)")
        return super().pos_ticket_files(order, item)


def test_retrying_an_accepted_invoiced_order_whose_delivery_failed_delivers_it(tmp_path):
    """The issue's reproduction: `orders retry` left such an order in `new` forever."""
    FilesGoMissing.calls = 0
    FilesGoMissing.missing.clear()

    def host(pos_db):
        return PluginHost("sqlite_pos", FilesGoMissing(FilesGoMissing.Config(database=pos_db)))

    with stack(tmp_path, pos_host=host, pipeline={"max_attempts": 2}) as run:
        order = order_of(run, "88702")
        assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
        row = run.store.get_order(order["id"])
        assert row.invoice_id and row.accepted_at and "injected" in row.last_error
        assert [state for _, state in reservations(run, order)] == ["invoiced"], "accepted tickets must stay sold"

        FilesGoMissing.missing.clear()
        FilesGoMissing.calls = -10**6  # the seller restored the files
        assert retry(run, order["id"]).exit_code == 0
        assert run.wait_settled([order["id"]])[order["id"]] == "done"
        seen = run.sandbox.inspect(order["id"])
        assert seen["accept_calls"] == 1 and run.invoices_for(order["id"]) == 1

        refused = retry(run, order["id"])
        assert refused.exit_code == 2 and "is done" in refused.output and "--redeliver" in refused.output
        assert retry(run, order["id"], "--redeliver").exit_code == 0
        assert run.wait_settled([order["id"]])[order["id"]] == "done"
        (item,) = run.sandbox.inspect(order["id"])["items"].values()
        assert item["upload_calls"] == 1 and run.invoices_for(order["id"]) == 1, "a redelivery delivered twice"


def _not_in_hand(group):
    from dataclasses import replace

    return replace(group, in_hand=False)
