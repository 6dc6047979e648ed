"""An order TEvo canceled after it was invoiced: the dashboard says its invoice was voided (issue 22, "Voids")."""

from __future__ import annotations

from tests.dashboard.conftest import client, dashboard_daemon, seed_order


def test_the_order_page_shows_the_invoice_voided_and_the_step_in_its_history(tmp_path, pos_db):
    with dashboard_daemon(tmp_path, pos_db) as daemon:
        store = daemon.runtime.store.sync
        seed_order(daemon, 1001, "fulfilling", invoice_id="INV-7")
        store.update_order(1001, state="voiding", reason="TEvo says canceled: canceled after it was invoiced; "
                                                         "voiding invoice INV-7 in the POS")
        store.audit("invoice_voided", order_id=1001, reason="canceled at TEvo; invoice INV-7 voided in the POS, "
                                                            "its tickets are back on sale")
        store.update_order(1001, state="canceled", reason="canceled at TEvo; invoice INV-7 voided in the POS")
        seed_order(daemon, 1002, "done", invoice_id="INV-8")
        with client(daemon) as http:
            voided = http.get("/dashboard/orders/1001").text
            sold = http.get("/dashboard/orders/1002").text
        assert "INV-7 (voided: TEvo canceled the order)" in voided
        assert "fulfilling -&gt; voiding" in voided and "voiding -&gt; canceled" in voided
        assert "invoice INV-7 voided in the POS, its tickets are back on sale" in voided
        assert "INV-8" in sold and "voided" not in sold
