"""Notifications through the running daemon (both store backends): an order that needs review is one email and
one webhook, while a destination that hangs neither blocks the pipeline nor the other destinations, and its
password never reaches the log."""

from __future__ import annotations

from tests.e2e.test_exactly_once import send_webhook
from tests.e2e.test_resume_from_facts import RECHECK, _not_in_hand, order_of
from tests.notify_receivers import SmtpServer, WebhookReceiver
from tevo_bridge.loopback.stack import stack, webhook_form
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.orders import ItemRequest, OrderRequest
from tevo_bridge.sandbox.scenarios import Channel, Scenario


def test_an_order_needing_review_is_told_once_by_email_and_webhook_while_a_hung_destination_blocks_nothing(
        tmp_path):
    with SmtpServer() as smtp, WebhookReceiver() as hook, WebhookReceiver() as hung:
        hung.hang = True
        hung_url = hung.url(path="hang", user="bridge:HangS3cretPassw0rd")
        notify = {"urls": [smtp.url, hook.url(), hung_url], "timeout": 2.0,
                  "dashboard_url": "https://admin.example.com/dashboard"}
        with stack(tmp_path, notify=notify) as run:
            remote_id = "88702"
            (path,) = run.pos("SELECT eticket_pdf FROM ticket_groups WHERE remote_id = ?", remote_id)[0]
            open(path, "wb").write(b"%PDF-1.4 this is not a pdf")
            group = next(g for g in run.sandbox.driver.planner.inventory if g.remote_id == remote_id)
            order = run.sandbox.create_order(OrderRequest(items=[ItemRequest(group, 2, group.wholesale_price,
                                                                              group.seats[:2])]))
            send_webhook(run, webhook_form(order))
            assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
            fine = run.sandbox.driver.create_sync(Scenario.PAGE_SELECTION, [Channel.WEBHOOK])
            assert run.wait_settled([fine.order_id])[fine.order_id] == "done"  # the hung destination held nothing
            assert run.wait_for(lambda: smtp.messages and hook.posts, timeout=45)
            assert run.wait_for(lambda: (run.store.list_notifications()[0].last_error or "").endswith("2 s"),
                                timeout=45)
        log = (tmp_path / "daemon.log").read_text()
    assert len(smtp.messages) == 1 and len(hook.posts) == 1
    assert smtp.messages[0]["Subject"] == f"tevo-bridge: order {order['id']}: needs review"
    assert f"https://admin.example.com/dashboard/orders/{order['id']}" in hook.posts[0]["message"]
    assert "HangS3cretPassw0rd" not in log and "json://bridge:****@127.0.0.1" in log


def test_an_invoiced_order_canceled_at_tevo_is_told_once(tmp_path):
    """Keyed on what the pipeline records, so it holds whichever way the cancel of an invoiced order ends: in
    ``canceled`` with its invoice id (told as such), or in ``needs_review`` when a void is refused."""
    inventory = [g if g.remote_id != "88702" else _not_in_hand(g) for g in demo_inventory()]
    with WebhookReceiver() as hook:
        with stack(tmp_path, inventory=inventory, pipeline=RECHECK, notify={"urls": [hook.url()]}) as run:
            run.pos_write("UPDATE ticket_groups SET eticket_pdf = NULL WHERE remote_id = ?", "88702")
            order = order_of(run, "88702")
            assert run.wait_for(lambda: run.state(order["id"]) == "awaiting_tickets")  # accepted and invoiced
            invoice = run.store.get_order(order["id"]).invoice_id
            assert invoice
            canceled = run.sandbox.world.cancel_order(order["id"])
            send_webhook(run, webhook_form(canceled))
            assert run.wait_settled([order["id"]])[order["id"]] in ("canceled", "needs_review")
            assert run.wait_for(lambda: hook.posts, timeout=45)
            run.wait_for(lambda: len(hook.posts) > 1, timeout=6)  # a second message would arrive within a tick
    (post,) = hook.posts
    assert post["title"] in (f"tevo-bridge: order {order['id']}: canceled after it was invoiced",
                             f"tevo-bridge: order {order['id']}: needs review")
    assert invoice in post["message"] or "void" in post["message"]
