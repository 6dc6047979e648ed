"""Part 6: run with known secrets; search every log line and every error body for them: zero hits.

Two runs.  ``tevo-bridge demo`` (the whole mix of orders over every channel) with
its daemon log and console output kept; then a run that provokes every error the
intake can answer (wrong key, wrong token, bad bodies, too large, TEvo faults, a
read-only store) and keeps every response body.  The secrets are the TEvo token
and secret, the Order Integration key and the webhook path token.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from tevo_bridge.demo import run_demo
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, stack
from tevo_bridge.sandbox.credentials import make_credentials
from tevo_bridge.sandbox.faults import FaultSettings
from tevo_bridge.sandbox.scenarios import Scenario

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class SecretsRun:
    secrets: int = 0
    log_lines: int = 0
    error_bodies: int = 0
    hits: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {"secrets": self.secrets, "log_lines_scanned": self.log_lines,
                "error_bodies_scanned": self.error_bodies, "hits": len(self.hits)}


def scan(result: SecretsRun, where: str, texts: list[str], secrets: list[str]) -> None:
    for n, text in enumerate(texts, 1):
        for secret in secrets:
            if secret in text:
                result.hits.append(f"{where} #{n}: {text[:200]}")


def demo_texts(folder: Path, orders: int, seed: int) -> tuple[list[str], list[str]]:
    """The demo's daemon log lines and console lines, and the secrets it ran with."""
    console_out = io.StringIO()
    run_demo(orders=orders, seed=seed, keep=folder, console=Console(file=console_out, width=160))
    creds = make_credentials(None, None, seed)  # the sandbox's credentials for this seed
    lines = (folder / "daemon.log").read_text().splitlines() + console_out.getvalue().splitlines()
    return lines, [creds.token, creds.secret, API_KEY, WEBHOOK_TOKEN]


def error_run(tmp: Path) -> tuple[list[str], list[str], list[str]]:
    """Every error answer the intake gives, with TEvo failing underneath: (bodies, log lines, secrets)."""
    bodies: list[str] = []
    faults = FaultSettings(error_rate=0.3, timeout_rate=0.1, hang_seconds=1.0, rate_limit_rate=0.05)
    with stack(tmp, faults=faults, log_level="debug", tevo={"read_timeout": 0.5, "upload_timeout": 1.0},
               pipeline={"max_attempts": 2}) as run:
        base = run.daemon.base_url
        secrets = [run.sandbox.token, run.sandbox.secret, API_KEY, WEBHOOK_TOKEN]
        made = [run.sandbox.driver.create_sync(s) for s in (Scenario.OFFICE_ETICKET, Scenario.UNDERPRICED,
                                                            Scenario.OI_INVOICE, Scenario.MULTI_ITEM)]
        hook = f"{base}/webhooks/tevo/{WEBHOOK_TOKEN}"
        oi = f"{base}/order-integration"
        calls = [
            ("POST", f"{hook}x", b"a=1", FORM), ("POST", f"{base}/webhooks/tevo/{API_KEY}", b"a=1", FORM),
            ("POST", hook, b"event_type=order_created&body=%7Bnot json", FORM),
            ("POST", hook, b"event_type=order_created&body=" + WEBHOOK_TOKEN.encode(), FORM),
            ("POST", hook, b"x" * 2_000_000, FORM), ("POST", hook, b"{}", {"Content-Type": "application/json"}),
            ("POST", f"{oi}/holds", b"{}", {"X-Api-Key": API_KEY + "x"}),
            ("POST", f"{oi}/holds", b"{}", {"X-Api-Key": WEBHOOK_TOKEN}),
            ("POST", f"{oi}/holds", b'{"remote_id": "' + API_KEY.encode() + b'"}', {"X-Api-Key": API_KEY}),
            ("POST", f"{oi}/holds", b"[" * 100_000, {"X-Api-Key": API_KEY}),
            ("POST", f"{oi}/invoices", b'{"order_id": "x"}', {"X-Api-Key": API_KEY}),
            ("POST", f"{oi}/holds/{API_KEY}/release", b"{}", {"X-Api-Key": "nope"}),
            ("GET", f"{oi}/holds", b"", {}), ("GET", f"{base}/nowhere/{WEBHOOK_TOKEN}", b"", {}),
        ]
        for method, url, content, headers in calls:
            bodies.append(httpx.request(method, url, content=content, headers=headers, timeout=30).text)
        store = run.store
        with store._lock:
            store._conn.execute("PRAGMA query_only = ON")
        bodies.append(httpx.post(hook, content=b"event_type=order_created&body=%7B%22id%22%3A5%7D", headers=FORM,
                                 timeout=30).text)
        bodies.append(httpx.post(f"{oi}/holds", json={"remote_id": "88213", "quantity": 1, "global_id": "s-1"},
                                 headers={"X-Api-Key": API_KEY}, timeout=30).text)
        with store._lock:
            store._conn.execute("PRAGMA query_only = OFF")
        bodies.append(httpx.get(f"{base}/readyz", timeout=10).text)
        run.wait_settled([m.order_id for m in made if m.order_id], timeout=4)  # long enough to log TEvo's errors
    return bodies, (tmp / "daemon.log").read_text().splitlines(), secrets


def run_secrets(tmp: Path, demo_orders: int = 26, seed: int = 3) -> SecretsRun:
    result = SecretsRun()
    (tmp / "demo").mkdir(parents=True, exist_ok=True)
    (tmp / "errors").mkdir(parents=True, exist_ok=True)
    lines, secrets = demo_texts(tmp / "demo", demo_orders, seed)
    scan(result, "demo log", lines, secrets)
    bodies, error_lines, error_secrets = error_run(tmp / "errors")
    scan(result, "error body", bodies, error_secrets)
    scan(result, "error-run log", error_lines, error_secrets)
    result.secrets = len(set(secrets) | set(error_secrets))
    result.log_lines = len(lines) + len(error_lines)
    result.error_bodies = len(bodies)
    return result
