"""TEvo cancels an order the POS already invoiced (issue 22, "Voids"), through the real daemon, sandbox and SQLite POS.

The cancel comes the way TEvo sends it: ``POST /_sandbox/orders/{id}/cancel`` changes the order at TEvo and
the sandbox announces it by an ``order_canceled`` webhook. The invoice is voided and its seats are on sale
again, or a person is told exactly what to do.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import closing

import httpx
from tevo_bridge_sqlite_pos import store as pos_store
from tevo_bridge_sqlite_pos.plugin import SqlitePos
from typer.testing import CliRunner

from tests.e2e.test_exactly_once import send_webhook
from tevo_bridge import hookimpl
from tevo_bridge.cli import app
from tevo_bridge.loopback.stack import Stack, stack, webhook_form
from tevo_bridge.pos.errors import VoidRefused
from tevo_bridge.pos.host import PluginHost
from tevo_bridge.pos.inventory import timestamp
from tevo_bridge.sandbox.inventory import demo_inventory
from tevo_bridge.sandbox.orders import ItemRequest, OrderRequest
from tevo_bridge.sandbox.scenarios import Channel, Scenario

RECHECK = {"recheck_seconds": 0.3}
NOT_IN_HAND = "88702"  # its PDF is taken away: the order is invoiced, then waits in awaiting_tickets


def available(run: Stack, remote_id: str) -> int | None:
    with closing(sqlite3.connect(run.pos_db)) as conn:
        return pos_store.available(conn, remote_id, timestamp())


def cancel(run: Stack, order_id: int, reason: str | None = None) -> None:
    body = {"reason": reason} if reason else None
    answer = httpx.post(f"{run.sandbox.base_url}/_sandbox/orders/{order_id}/cancel", json=body, timeout=10)
    assert answer.status_code == 200, answer.text


def invoiced_not_delivered(run: Stack) -> dict:
    """An order accepted and invoiced whose tickets the POS does not have yet: it waits in awaiting_tickets."""
    run.pos_write("UPDATE ticket_groups SET eticket_pdf = NULL WHERE remote_id = ?", NOT_IN_HAND)
    group = next(g for g in run.sandbox.driver.planner.inventory if g.remote_id == NOT_IN_HAND)
    order = run.sandbox.create_order(OrderRequest(items=[ItemRequest(group, 2, group.wholesale_price,
                                                                      group.seats[:2])]))
    send_webhook(run, webhook_form(order))
    assert run.wait_for(lambda: run.state(order["id"]) == "awaiting_tickets")
    return order


def inventory() -> list:
    return [g if g.remote_id != NOT_IN_HAND else dataclasses.replace(g, in_hand=False) for g in demo_inventory()]


def show(run: Stack, order_id: int) -> str:
    config = run.tmp / "cli.toml"
    config.write_text(run.store_toml())
    shown = CliRunner().invoke(app, ["orders", "show", str(order_id), "--config", str(config)])
    assert shown.exit_code == 0, shown.output
    return shown.output


def test_an_invoiced_order_canceled_at_tevo_is_voided_and_its_seats_are_on_sale_again(tmp_path):
    with stack(tmp_path, inventory=inventory(), pipeline=RECHECK) as run:
        before = available(run, NOT_IN_HAND)
        order = invoiced_not_delivered(run)
        row = run.store.get_order(order["id"])
        assert row.invoice_id and available(run, NOT_IN_HAND) == before - 2

        cancel(run, order["id"], reason="event postponed")
        assert run.wait_settled([order["id"]])[order["id"]] == "canceled"
        assert available(run, NOT_IN_HAND) == before, "the voided invoice's seats must be on sale again"
        number = int(row.invoice_id.removeprefix("INV-"))
        assert run.pos("SELECT invoice_id, reason FROM voids") == [(number, "canceled at TEvo (canceled); "
                                                                             "event postponed")]
        trail = run.store.audit_trail(order["id"])
        moves = [(a.from_state, a.to_state) for a in trail if a.action == "transition"]
        assert ("awaiting_tickets", "voiding") in moves and ("voiding", "canceled") in moves
        assert [a.action for a in trail].count("invoice_voided") == 1
        assert f"invoice {row.invoice_id} voided in the POS" in show(run, order["id"])
        assert [d.status for d in run.sandbox.driver.webhooks("order_canceled")] == [200]


def test_a_delivered_order_canceled_at_tevo_is_voided_and_a_person_is_told_to_revoke_the_tickets(tmp_path):
    with stack(tmp_path) as run:
        before = {g.remote_id: available(run, g.remote_id) for g in run.sandbox.driver.planner.inventory}
        made = run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK], cancel="after_delivery")
        assert made.expected.final_state == "canceled"
        assert run.wait_for(lambda: run.state(made.order_id) == "needs_review", timeout=30)
        order = run.sandbox.world.order(made.order_id)
        assert order["seller_state"] == "canceled_post_acceptance"
        row = run.store.get_order(made.order_id)
        assert f"invoice {row.invoice_id} voided in the POS and its tickets are back on sale" in row.last_error
        assert "already delivered" in row.last_error and "revoke" in row.last_error
        assert "resolved on the dashboard" in row.last_error
        remote_id = order["items"][0]["ticket_group"]["remote_id"]
        assert available(run, remote_id) == before[remote_id], "the voided seats must be on sale again"
        sold = run.pos("SELECT COUNT(*) FROM invoice_lines WHERE invoice_id NOT IN (SELECT invoice_id FROM voids)")
        assert sold == [(0,)], "the only sale was voided: nothing counts as sold"
        moves = [(a.from_state, a.to_state) for a in run.store.audit_trail(made.order_id) if a.action == "transition"]
        assert ("done", "voiding") in moves and ("voiding", "needs_review") in moves


def test_an_order_canceled_before_the_seller_acted_is_canceled_with_nothing_sold_or_voided(tmp_path):
    with stack(tmp_path) as run:
        made = run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK], cancel="before_invoice")
        assert run.wait_settled([made.order_id])[made.order_id] == "canceled"
        assert run.sandbox.inspect(made.order_id)["accept_calls"] == 0 and run.invoices_for(made.order_id) == 0
        assert run.pos("SELECT COUNT(*) FROM voids") == [(0,)]
        assert [d.status for d in run.sandbox.driver.webhooks("order_canceled")] == [200]


def test_a_cancel_whose_webhook_was_lost_is_voided_by_an_operator_retry(tmp_path):
    with stack(tmp_path) as run:
        made = run.sandbox.driver.create_sync(Scenario.OFFICE_ETICKET, [Channel.WEBHOOK])
        assert run.wait_settled([made.order_id])[made.order_id] == "done"
        run.sandbox.world.cancel_order(made.order_id)  # canceled at TEvo, and nobody told the daemon
        config = run.tmp / "cli.toml"
        config.write_text(run.store_toml())
        retried = CliRunner().invoke(app, ["orders", "retry", str(made.order_id), "--redeliver", "--config",
                                           str(config)])
        assert retried.exit_code == 0, retried.output
        assert run.wait_for(lambda: run.state(made.order_id) == "needs_review", timeout=30)
        assert "voided in the POS" in run.store.get_order(made.order_id).last_error
        assert run.pos("SELECT COUNT(*) FROM voids") == [(1,)]


class RefusingVoids(SqlitePos):
    """The SQLite POS, whose invoices were paid out: it refuses every void."""

    @hookimpl
    def pos_void_invoice(self, order, invoice_id, reason):
        raise VoidRefused(invoice_id, "the invoice is paid out")


class NoVoids(SqlitePos):
    """The SQLite POS as a contract 1 plugin: no pos_void_invoice."""

    pos_void_invoice = None


def test_a_pos_that_refuses_the_void_sends_the_order_to_review_with_what_to_do(tmp_path):
    host = lambda db: PluginHost("sqlite_pos", RefusingVoids(RefusingVoids.Config(database=db)))  # noqa: E731
    with stack(tmp_path, inventory=inventory(), pipeline=RECHECK, pos_host=host) as run:
        before = available(run, NOT_IN_HAND)
        order = invoiced_not_delivered(run)
        invoice_id = run.store.get_order(order["id"]).invoice_id
        cancel(run, order["id"])
        assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
        error = run.store.get_order(order["id"]).last_error
        assert "the POS refused to void it: the invoice is paid out" in error, error
        assert f"Fix: void invoice {invoice_id} in the POS by hand" in error
        assert f"`tevo-bridge orders retry {order['id']}`" in error and "already delivered" not in error
        assert available(run, NOT_IN_HAND) == before - 2, "nothing was voided: the seats stay sold"
        assert run.store.job_for_order(order["id"])["attempts"] == 1, "a refusal is not retried"


def test_a_pos_without_the_void_hook_sends_the_order_to_review_with_what_to_do(tmp_path):
    host = lambda db: PluginHost("sqlite_pos", NoVoids(NoVoids.Config(database=db)))  # noqa: E731
    with stack(tmp_path, inventory=inventory(), pipeline=RECHECK, pos_host=host) as run:
        order = invoiced_not_delivered(run)
        invoice_id = run.store.get_order(order["id"]).invoice_id
        cancel(run, order["id"])
        assert run.wait_settled([order["id"]])[order["id"]] == "needs_review"
        error = run.store.get_order(order["id"]).last_error
        assert "does not implement pos_void_invoice" in error and f"void invoice {invoice_id} in the POS" in error
        assert run.pos("SELECT COUNT(*) FROM voids") == [(0,)]
