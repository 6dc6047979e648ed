"""TEvo's word in the views (its age, the short table cell) and the bounded looks after delivery."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from tevo_bridge.cli_views import ago, order_view, tevo_cell
from tevo_bridge.clock import iso
from tevo_bridge.config import PipelineSettings
from tevo_bridge.pipeline.tevo_word import next_check_delay
from tevo_bridge.store import OrderRow

ROW = OrderRow(id=1, state="done", seller_state="accepted", buyer_type="Office", buyer_id=6, global_id=None,
               customer_id=None, invoice_id="INV-1", reject_reason=None, last_error=None, snapshot=None,
               source="webhook", created_at=None, first_seen_at="2026-01-01T00:00:00.000Z", accepted_at=None,
               updated_at="2026-01-01T00:00:00.000Z")


def test_tevos_word_is_shown_with_its_age_and_never_as_if_read_now():
    three_min = iso(datetime.now(UTC) - timedelta(minutes=3, seconds=5))
    read = dataclasses.replace(ROW, seller_state="completed", tevo_seen_at=three_min, pos_hold_id="H-9",
                               tevo_shipments='[{"id":5,"type":"Eticket","state":"delivered","tracking_number":null}]')
    view = order_view(read)
    assert view["tevo"]["said"] == "completed, 3 min ago" and view["tevo"]["age_seconds"] >= 180
    assert view["tevo"]["shipments"] == [{"id": 5, "type": "Eticket", "state": "delivered", "tracking_number": None}]
    assert view["pos"] == {"hold_id": "H-9", "invoice_id": "INV-1", "customer_id": None}
    assert tevo_cell(view["tevo"]) == "completed 3m"
    # A row from before the upgrade: TEvo's state without a time is shown without an age, never "0 s ago".
    old = order_view(ROW)["tevo"]
    assert (old["said"], old["ago"], tevo_cell(old)) == ("accepted", None, "accepted")
    assert order_view(dataclasses.replace(ROW, seller_state=None))["tevo"]["said"] == "not read yet"


def test_ages_read_as_a_person_says_them():
    assert [ago(s) for s in (0, 59, 60, 3599, 3600, 86400 * 2, None)] == \
        ["0 s ago", "59 s ago", "1 min ago", "59 min ago", "1 h ago", "2 d ago", "at an unknown time"]


def test_the_looks_after_delivery_double_and_stop_at_the_configured_number_or_at_completed():
    settings = PipelineSettings(after_delivery_checks=3, after_delivery_check_seconds=10.0)
    delays = [next_check_delay(settings, dataclasses.replace(ROW, tevo_checks=n)) for n in range(5)]
    assert delays == [10.0, 20.0, 40.0, None, None]
    assert next_check_delay(settings, dataclasses.replace(ROW, seller_state="completed")) is None
    assert next_check_delay(PipelineSettings(after_delivery_checks=0), ROW) is None
