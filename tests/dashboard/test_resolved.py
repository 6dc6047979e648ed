"""A resolved order stays resolved: news from TEvo, the poller and a retry leave it where a person put it."""

from __future__ import annotations

from pathlib import Path

from tests.dashboard.test_browser import stuck_order
from tevo_bridge.loopback.stack import stack


def test_a_resolved_order_is_not_touched_again(tmp_path: Path):
    with stack(tmp_path) as run:
        order, good_pdf, pdf_path = stuck_order(run)
        Path(pdf_path).write_bytes(good_pdf)  # the cause is gone, but the seller settled the order by hand
        assert run.store.resolve_order(order["id"], "sold these seats by phone", "alice") == "resolved"
        run.poll()  # TEvo still lists it as pending: the poller skips a resolved order
        assert run.store.job_for_order(order["id"])["state"] == "failed"
        run.store.enqueue_order(order["id"], "webhook")  # as any later event from TEvo queues it
        run.daemon.runtime.loop.call_soon_threadsafe(run.daemon.runtime.wake)
        assert run.wait_for(lambda: run.store.job_for_order(order["id"])["state"] == "done")
        assert run.store.get_order(order["id"]).state == "resolved"
        assert run.store.retry_order(order["id"]) == "terminal"
        assert run.sandbox.inspect(order["id"])["accept_calls"] == 0 and run.invoices_for(order["id"]) == 0
