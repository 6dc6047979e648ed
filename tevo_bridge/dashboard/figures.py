"""What the pages show, as plain data: hold answers and latency, health, an order's snapshot, the masked config.

Nothing here touches the store (the routes read it); these shape what was read, and what the
process knows about itself (the metrics' histograms, the health ledgers), for the templates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from tevo_bridge import health as ledgers
from tevo_bridge.config import Settings
from tevo_bridge.dashboard.timefmt import iso_z, parse_iso
from tevo_bridge.metrics import HOLD_LATENCY
from tevo_bridge.pos.types import PosHealth

#: Plugin settings whose name says they hold a credential: masked like the core secrets.
SECRET_WORDS = ("token", "secret", "password", "passwd", "key", "credential", "auth")
MASK = "•••••• (set, hidden)"

#: How a hold's state reads as TEvo's answer.
HOLD_ANSWERS = (("held", "held"), ("failed", "refused or failed"), ("released", "released"),
                ("expired", "expired"), ("invoiced", "invoiced"))


#: (words in a needs_review reason, what a person should do), first match wins; a reason that already names its
#: fix ("Fix:", "run `tevo-bridge ...`") gets no advice beside it.
ADVICE = (
    (("cannot supply",), "Check the listing's quantity and price in the POS, then Retry; if you will not sell it, "
                         "reject the order at TEvo and mark it resolved."),
    (("fraud",), "Look at the buyer's fraud check at TEvo: Retry once TEvo approved it, or reject it there and mark "
                 "it resolved."),
    (("other_office_buyers", "buyer is office"), "Another brokerage is buying: decide at TEvo; to let such orders "
                                                 "through, set [pipeline] other_office_buyers = \"process\" and "
                                                 "Retry."),
    (("unknown buyer",), "Look at the order's buyer at TEvo; settle it there and mark it resolved."),
    (("seller_state", "tevo has no order"), "Look at the order in TEvo's Core; settle it there and mark it "
                                            "resolved."),
    (("pos", "timeout", "no answer", "could not connect", "unreachable"),
     "Bring the POS (or TEvo) back (the Health panel shows which), then Retry."),
)
GENERIC_ADVICE = "Fix what the reason names, then Retry; if you settled the order by hand, mark it resolved."


def advice(reason: str) -> str | None:
    """What to do about a needs_review reason, in plain words (None: the reason says it itself)."""
    lowered = reason.lower()
    if "fix:" in lowered or "then run" in lowered:
        return None
    for words, text in ADVICE:
        if any(word in lowered for word in words):
            return text
    return GENERIC_ADVICE


def now_utc() -> datetime:
    return datetime.now(UTC)


def hours_ago(hours: int) -> str:
    return iso_z(now_utc() - timedelta(hours=hours))


def seconds_until(text: str | None) -> int | None:
    value = parse_iso(text)
    return None if value is None else int((value - now_utc()).total_seconds())


def hold_answers(by_state: dict[str, int]) -> list[tuple[str, str, int]]:
    return [(state, label, by_state.get(state, 0)) for state, label in HOLD_ANSWERS]


def hold_latency() -> dict[str, Any]:
    """Answers counted by this process's hold histogram, and the bucket bound under which 50/95/99 % fell."""
    buckets: list[tuple[float, float]] = []
    for metric in HOLD_LATENCY.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                buckets.append((float(sample.labels["le"]), sample.value))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    result: dict[str, Any] = {"count": int(total)}
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        bound = next((le for le, seen in buckets if total and seen >= q * total), None)
        result[name] = None if bound is None else ("over 5 s" if bound == float("inf") else f"≤ {bound * 1000:g} ms")
    return result


def _ledger(ledger: ledgers.Ledger, secrets: list[str]) -> dict[str, Any]:
    return {"last_ok": _iso(ledger.last_ok),
            "errors": [{"at": _iso(f.at), "message": redact(f.message, secrets)} for f in ledger.errors()]}


def _iso(epoch: float | None) -> str | None:
    return iso_z(datetime.fromtimestamp(epoch, UTC)) if epoch else None


async def pos_health(host: Any) -> PosHealth | None:
    """The plugin's ``pos_health`` answer (under its budget, cached by the host), or None without a plugin here."""
    return await host.pos.health() if host.pos is not None else None


def _probe(answer: PosHealth | None, secrets: list[str]) -> dict[str, Any] | None:
    return None if answer is None else {"ok": answer.ok, "reason": redact(answer.reason, secrets) or None}


def health(host: Any, probe: PosHealth | None = None) -> dict[str, Any]:
    settings: Settings = host.settings
    secrets = all_secrets(settings)
    worker = getattr(host, "worker", None)
    tick = getattr(worker, "last_tick", None) if worker is not None else None
    return {
        "daemon": worker is not None,
        "tevo": _ledger(ledgers.TEVO, secrets),
        "pos": dict(_ledger(ledgers.POS, secrets), trouble=redact(host.pos_trouble() or "", secrets) or None,
                    loaded=host.pos is not None, probe=_probe(probe, secrets)),
        "poller": dict(_ledger(ledgers.POLLER, secrets), enabled=settings.poller.enabled,
                       interval=settings.poller.interval),
        "worker_seconds_ago": round(time.monotonic() - tick, 1) if tick else None,
    }


def plugin(host: Any) -> dict[str, Any]:
    from tevo_bridge.pos.host import resolve_budgets

    settings: Settings = host.settings
    pos = host.pos
    budgets = dict(pos.budgets) if pos is not None else dict(resolve_budgets(settings.pos.budgets))
    return {"name": settings.pos.plugin, "loaded": pos is not None, "budgets": sorted(budgets.items()),
            "overridden": set(settings.pos.budgets) | {f"pos_{k}" for k in settings.pos.budgets}}


def all_secrets(settings: Settings) -> list[str]:
    """The core secrets and every plugin setting whose name says it is one: never shown, even inside an error."""
    values = list(settings.secrets())
    for table in settings.plugins.values():
        for key, value in _walk(table):
            if _secret_name(key) and isinstance(value, str) and value:
                values.append(value)
    return values


def _walk(table: Any, key: str = "") -> list[tuple[str, Any]]:
    if isinstance(table, dict):
        return [pair for k, v in table.items() for pair in _walk(v, str(k))]
    if isinstance(table, list):
        return [pair for v in table for pair in _walk(v, key)]
    return [(key, table)]


def _secret_name(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "••••••")
    return text


def masked_config(settings: Settings) -> list[tuple[str, list[tuple[str, str]]]]:
    """The effective configuration, section by section, every secret replaced by a mask."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name == "plugins":
            for plugin_name, table in value.items():
                sections.append((f"plugins.{plugin_name}", _rows(table, "", secret_keys=True)))
            continue
        sections.append((name, _rows(value, "", secret_keys=False)))
    return [(name, _notify_destinations(settings) if name == "notify" else rows) for name, rows in sections]


def _notify_destinations(settings: Settings) -> list[tuple[str, str]]:
    """The ``[notify]`` rows, its URLs in Apprise's privacy form: where messages go, without the secrets."""
    from tevo_bridge.notify_urls import masked

    rows = _rows(settings.notify, "", secret_keys=False)
    shown = ", ".join(masked(url.get_secret_value()) for url in settings.notify.urls) or "(none)"
    return [(key, shown if key == "urls" else value) for key, value in rows]


def _rows(value: Any, prefix: str, *, secret_keys: bool) -> list[tuple[str, str]]:
    items = value.items() if isinstance(value, dict) else ((k, getattr(value, k)) for k in type(value).model_fields)
    rows: list[tuple[str, str]] = []
    for key, item in items:
        name = f"{prefix}{key}"
        if isinstance(item, BaseModel):
            rows.extend(_rows(item, f"{name}.", secret_keys=secret_keys))
        elif isinstance(item, SecretStr):
            rows.append((name, MASK if item.get_secret_value() else "(not set)"))
        elif isinstance(item, list) and item and all(isinstance(v, SecretStr) for v in item):
            rows.append((name, f"{len(item)} value(s), hidden"))
        elif secret_keys and _secret_name(str(key)):
            rows.append((name, MASK if item else "(not set)"))
        else:
            rows.append((name, str(item) if isinstance(item, (str, Path)) else json.dumps(item, default=str)))
    return rows


# -- one order's TEvo snapshot ----------------------------------------------------------------------


def items(snapshot: dict[str, Any], trail: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The snapshot's items; an item counts as delivered once TEvo says so or the audit trail recorded its finalize
    (the snapshot is taken before fulfilment, so it may not say so yet)."""
    delivered: dict[int, int | None] = {}
    for entry in trail:
        if entry.action in ("etickets.finalize", "etickets.deliver") and entry.details:
            data = json.loads(entry.details)
            if isinstance(data, dict) and "item_id" in data:
                keep = data.get("keep_pages")
                delivered[data["item_id"]] = len(keep) if isinstance(keep, list) else data.get("pages")
    rows = []
    for item in snapshot.get("items") or []:
        group = item.get("ticket_group") or {}
        event = group.get("event") or {}
        venue = (event.get("venue") or {}).get("name")
        rows.append({"quantity": item.get("quantity"), "price": item.get("price"), "remote_id": group.get("remote_id"),
                     "event": event.get("name"), "occurs_at": event.get("occurs_at"), "venue": venue,
                     "section": group.get("section"), "row": group.get("row"),
                     "seats": ", ".join(map(str, item.get("seats") or group.get("seats") or [])),
                     "format": group.get("format"), "in_hand": group.get("in_hand"),
                     "eticket_finalized": item.get("eticket_finalized") or item.get("id") in delivered,
                     "pages": item.get("eticket_pdf_pages") or delivered.get(item.get("id"))})
    return rows


def buyer(snapshot: dict[str, Any]) -> dict[str, Any]:
    who = snapshot.get("buyer") or {}
    emails = [e.get("address") for e in who.get("email_addresses") or [] if e.get("address")]
    phones = [f"{p.get('country_code') or ''} {p.get('number') or ''}".strip() for p in who.get("phone_numbers") or []]
    return {"type": who.get("type"), "id": who.get("id"), "name": who.get("name"), "emails": emails, "phones": phones}


def shipments(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for shipment in snapshot.get("shipments") or []:
        email = (shipment.get("email_address") or {}).get("address")
        rows.append({"id": shipment.get("id"), "type": shipment.get("type"), "state": shipment.get("state"),
                     "tracking": shipment.get("tracking_number"), "to": shipment.get("ship_to_name"),
                     "email": email, "courier": shipment.get("courier_company"),
                     "service": shipment.get("service_type_display") or shipment.get("service_type"),
                     "airbill": bool(shipment.get("airbill")), "notes": shipment.get("notes")})
    return rows


def details(text: str | None) -> list[tuple[str, str]]:
    """An audit entry's details as (key, value) lines: pages uploaded, airbill saved, who resolved it."""
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return [("details", text)]
    if not isinstance(data, dict):
        return [("details", json.dumps(data))]
    return [(str(k), v if isinstance(v, str) else json.dumps(v, default=str)) for k, v in data.items()]
