"""Fault injection: the ways TEvo and the network misbehave, each one a setting.

Faults apply to the signed API (``/v9``) and to the driver's webhooks, never to
``/_sandbox``, so inspection stays trustworthy while the bridge is tortured.
A seeded RNG makes a run reproducible: the same seed and the same sequence of
calls give the same faults.
"""

from __future__ import annotations

import asyncio
import enum
import random
import threading
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tevo_bridge.sandbox.errors import RATE_LIMITED_BODY, SERVER_ERROR_BODY, UNAVAILABLE_BODY
from tevo_bridge.sandbox.responses import TevoJSON


class Fault(enum.Enum):
    ERROR_500 = "error_500"
    ERROR_503 = "error_503"
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    LATENCY = "latency"
    WEBHOOK_DUPLICATE = "webhook_duplicate"
    WEBHOOK_DROP = "webhook_drop"
    WEBHOOK_REORDER = "webhook_reorder"


@dataclass
class FaultSettings:
    """Shares are probabilities per request (0..1); times are seconds."""

    error_rate: float = 0.0  # answer 500 or 503 before acting
    latency: float = 0.0  # added to every /v9 answer
    timeout_rate: float = 0.0  # act, then hold the connection past the client's read timeout
    hang_seconds: float = 35.0  # how long a timeout holds on; the bridge reads for 30 s by default
    rate_limit_rate: float = 0.0  # answer 429 with Retry-After before acting
    retry_after: int = 1
    webhook_duplicate_rate: float = 0.0  # send a webhook twice
    webhook_reorder: bool = False  # deliver webhooks of a burst newest first
    webhook_reorder_window: float = 0.5  # how long a burst is gathered before it is sent reversed
    webhook_drop_rate: float = 0.0  # never send it: only polling can find the order
    methods: tuple[str, ...] = ()  # limit the API faults to these verbs; empty means all

    def __post_init__(self) -> None:
        for name in ("error_rate", "timeout_rate", "rate_limit_rate", "webhook_duplicate_rate", "webhook_drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if self.error_rate + self.timeout_rate + self.rate_limit_rate > 1.0:
            raise ValueError("error_rate + timeout_rate + rate_limit_rate must not exceed 1")
        self.methods = tuple(m.upper() for m in self.methods)

    @classmethod
    def parse(cls, spec: str) -> FaultSettings:
        """``"error_rate=0.1,latency=0.2,webhook_reorder=true,methods=POST+PUT"`` (the CLI's ``--faults``)."""
        kinds = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, text = part.partition("=")
            name = name.strip().replace("-", "_")
            if name not in kinds:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(kinds)}")
            kind = str(kinds[name])
            if "bool" in kind:
                values[name] = text.strip().lower() in ("1", "true", "yes", "on", "")
            elif "tuple" in kind:
                values[name] = tuple(m for m in text.split("+") if m)
            elif "int" in kind:
                values[name] = int(text)
            else:
                values[name] = float(text)
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


class FaultInjector:
    """Rolls the dice for each request and webhook, and counts what it did."""

    def __init__(self, settings: FaultSettings | None = None, seed: int | None = None) -> None:
        self.settings = settings or FaultSettings()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.log: list[dict[str, Any]] = []

    def note(self, fault: Fault, detail: str) -> None:
        with self._lock:
            self.counts[fault.value] += 1
            self.log.append({"fault": fault.value, "detail": detail})

    def roll(self, share: float) -> bool:
        with self._lock:
            return share > 0 and self._rng.random() < share

    def decide(self, method: str, path: str) -> Fault | None:
        """At most one of error, rate limit or timeout per request."""
        s = self.settings
        if s.methods and method.upper() not in s.methods:
            return None
        with self._lock:
            r = self._rng.random()
            error_kind = self._rng.choice((Fault.ERROR_500, Fault.ERROR_503))
        if r < s.error_rate:
            fault = error_kind
        elif r < s.error_rate + s.rate_limit_rate:
            fault = Fault.RATE_LIMIT
        elif r < s.error_rate + s.rate_limit_rate + s.timeout_rate:
            fault = Fault.TIMEOUT
        else:
            return None
        self.note(fault, f"{method} {path}")
        return fault

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {"settings": self.settings.to_json(), "counts": dict(self.counts), "log": list(self.log[-200:])}


class FaultMiddleware:
    """Pure ASGI, outermost, so a fault can wrap the whole handler including its state change."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v9"):
            await self.app(scope, receive, send)
            return
        settings = self.injector.settings
        fault = self.injector.decide(scope["method"], scope["path"])
        if settings.latency > 0:
            self.injector.note(Fault.LATENCY, f"{scope['method']} {scope['path']}")
            await asyncio.sleep(settings.latency)
        if fault is Fault.ERROR_500:
            await TevoJSON(SERVER_ERROR_BODY, 500)(scope, receive, send)
        elif fault is Fault.ERROR_503:
            await TevoJSON(UNAVAILABLE_BODY, 503)(scope, receive, send)
        elif fault is Fault.RATE_LIMIT:
            await TevoJSON(RATE_LIMITED_BODY, 429, {"retry-after": str(settings.retry_after)})(scope, receive, send)
        elif fault is Fault.TIMEOUT:
            await self._act_then_hang(scope, receive, send, settings.hang_seconds)
        else:
            await self.app(scope, receive, send)

    async def _act_then_hang(self, scope: Scope, receive: Receive, send: Send, hang: float) -> None:
        """The state change happens; the answer comes too late for the caller to learn of it."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(hang)
        try:
            for message in held:
                await send(message)
        except Exception:  # the caller gave up long ago; that is the point
            pass

