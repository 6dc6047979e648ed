"""What a person reads: one title and body for one or many notifications (a batch is one message).

Each event says what happened, why, and what to do, with a link to the order on the dashboard when
``[notify] dashboard_url`` (or the admin listener) gives one; plain text, since email, chat and a webhook
all show it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tevo_bridge.store.notifications import NotificationRow

TITLES = {
    "needs_review": "order needs review",
    "canceled_invoiced": "order canceled after it was invoiced",
    "unhealthy": "trouble",
    "recovered": "recovered",
    "daily_summary": "daily summary",
}


def compose(rows: list[NotificationRow], dashboard_url: str) -> tuple[str, str]:
    """(title, body) of one message telling every row."""
    if len(rows) == 1:
        return f"tevo-bridge: {_headline(rows[0])}", _describe(rows[0], dashboard_url)
    kinds = Counter(row.kind for row in rows)
    summary = ", ".join(f"{count} × {TITLES.get(kind, kind)}" for kind, count in kinds.items())
    body = "\n\n".join(f"{n}. {_describe(row, dashboard_url)}" for n, row in enumerate(rows, 1))
    return f"tevo-bridge: {len(rows)} events ({summary})", body


def _headline(row: NotificationRow) -> str:
    data = row.data()
    if row.kind in ("needs_review", "canceled_invoiced"):
        return f"order {data['order_id']}: {TITLES[row.kind].removeprefix('order ')}"
    if row.kind in ("unhealthy", "recovered"):
        return f"{data['component']} {TITLES[row.kind]}"
    return TITLES.get(row.kind, row.kind)


def _describe(row: NotificationRow, dashboard_url: str) -> str:
    data = row.data()
    describe = {"needs_review": _needs_review, "canceled_invoiced": _canceled, "unhealthy": _unhealthy,
                "recovered": _recovered, "daily_summary": _summary}.get(row.kind, _other)
    text = describe(data)
    order_id = data.get("order_id")
    if dashboard_url and order_id is not None:
        text += f"\nOpen it: {dashboard_url}/orders/{order_id}"
    elif dashboard_url and row.kind == "daily_summary":
        text += f"\nDashboard: {dashboard_url}/review"
    return text


def _needs_review(data: dict[str, Any]) -> str:
    order_id = data["order_id"]
    return (f"Order {order_id} needs a person (since {data['at']}, from {data.get('from_state') or '?'}).\n"
            f"Why: {data.get('reason') or 'no reason recorded'}\n"
            f"What to do: fix the cause, then retry it (the dashboard's Retry, or `tevo-bridge orders retry "
            f"{order_id}`); if you settled it by hand, mark it resolved on the dashboard.")


def _canceled(data: dict[str, Any]) -> str:
    order_id, invoice = data["order_id"], data.get("invoice_id")
    return (f"TEvo canceled order {order_id} after it was invoiced in the POS (invoice {invoice}), at {data['at']}.\n"
            f"What happened: {data.get('reason') or 'no reason recorded'}\n"
            f"What to do: make sure invoice {invoice} is voided in the POS and its tickets are on sale again, and "
            f"that nothing is delivered for it (`tevo-bridge orders show {order_id}`).")


def _unhealthy(data: dict[str, Any]) -> str:
    return (f"{data['component']} has been failing since {data['since']} ({data['minutes']} min).\n"
            f"Last error: {data.get('error') or 'none recorded'}\n"
            f"What to do: {data.get('advice', 'look at the dashboard Health panel and the log')}.")


def _recovered(data: dict[str, Any]) -> str:
    return f"{data['component']} works again (it had been failing since {data['since']})."


def _summary(data: dict[str, Any]) -> str:
    outcomes = ", ".join(f"{state}: {count}" for state, count in data["outcomes"].items()) or "none"
    waiting = ", ".join(f"{state}: {count}" for state, count in data["waiting"].items()) or "nothing"
    text = (f"Summary for {data['date']} (the last 24 hours).\nOrders by outcome: {outcomes}\n"
            f"Waiting now: {waiting}")
    if data.get("oldest_open"):
        text += f"\nOldest open order: {data['oldest_open']}"
    return text


def _other(data: dict[str, Any]) -> str:
    return str(data.get("text") or data)
