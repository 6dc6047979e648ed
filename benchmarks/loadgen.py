"""Closed-loop HTTP/1.1 load generator, run in its own process: ``python -m benchmarks.loadgen KIND URL``.

Each of ``--concurrency`` workers keeps one keep-alive connection and sends its next
request the moment the last answer arrived; latency is measured here, client-side,
from the first byte written to the last byte read.  Raw asyncio streams instead of
an HTTP client library keep the generator's own cost per request small (a few tens
of microseconds), so on a two-core machine most of the CPU is left to the server.

Bounded twice: stops after ``--count`` requests or ``--max-seconds``, whichever first.
Prints one JSON object: count, errors, status codes, seconds, rate, p50/p90/p99/max ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from decimal import Decimal
from urllib.parse import urlencode, urlsplit


def hold_request(prefix: str, n: int, remote_ids: list[str], api_key: str) -> tuple[str, bytes, dict[str, str]]:
    body = {"remote_id": remote_ids[n % len(remote_ids)], "quantity": 1, "global_id": f"{prefix}-{n}",
            "price": "120.00", "ticket_group_id": 500000 + n % len(remote_ids)}
    return ("/order-integration/holds", json.dumps(body).encode(),
            {"Content-Type": "application/json", "X-Api-Key": api_key})


def webhook_request(prefix: str, n: int, token: str) -> tuple[str, bytes, dict[str, str]]:
    # A new order each time (a new id and updated_at: a new dedupe key), shaped like TEvo's (§6.1).
    order_id = 10_000_000 + n
    order = {"id": order_id, "oid": f"{prefix}{n}-1", "seller_state": "pending", "updated_at": f"{prefix}-{n}",
             "buyer": {"type": "Office", "id": 6}, "items": [{"id": order_id * 10, "quantity": 2,
                                                               "price": str(Decimal("120.00"))}]}
    form = urlencode([("order_group_id", f"{prefix}{n}"), ("recipient", "seller"), ("event_type", "order_created"),
                      ("body", json.dumps(order, separators=(",", ":")))]).encode()
    return f"/webhooks/tevo/{token}", form, {"Content-Type": "application/x-www-form-urlencoded"}


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        url = urlsplit(args.url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.next = 0
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.remote_ids = args.remote_ids.split(",") if args.remote_ids else ["1"]

    def request(self, n: int) -> bytes:
        a = self.args
        if a.kind == "hold":
            path, body, headers = hold_request(a.prefix, n, self.remote_ids, a.api_key)
        else:
            path, body, headers = webhook_request(a.prefix, n, a.webhook_token)
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    async def worker(self, deadline: float, total: int, record: bool) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            while time.monotonic() < deadline:
                n = self.next
                if n >= total:
                    return
                self.next += 1
                payload = self.request(n)
                started = time.perf_counter()
                writer.write(payload)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                    elif name.strip().lower() == b"transfer-encoding":
                        raise RuntimeError("chunked answers are not expected here")
                await reader.readexactly(length)
                elapsed = time.perf_counter() - started
                if record:
                    self.latencies.append(elapsed * 1000)
                    self.statuses[int(head.split(b" ", 2)[1])] += 1
        finally:
            writer.close()

    async def phase(self, count: int, seconds: float, record: bool) -> float:
        start = time.perf_counter()
        deadline = time.monotonic() + seconds
        total = self.next + count
        results = await asyncio.gather(*(self.worker(deadline, total, record)
                                         for _ in range(self.args.concurrency)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self.errors[f"{type(result).__name__}: {result}"] += 1
        return time.perf_counter() - start

    async def main(self) -> dict[str, object]:
        a = self.args
        if a.warmup:
            await self.phase(a.warmup, a.max_seconds / 4, record=False)
        seconds = await self.phase(a.count, a.max_seconds, record=True)
        lat = sorted(self.latencies)

        def pct(q: float) -> float:
            if not lat:
                return float("nan")
            return lat[max(0, min(len(lat) - 1, round(q / 100 * len(lat) + 0.5) - 1))]

        return {"kind": a.kind, "concurrency": a.concurrency, "count": len(lat), "seconds": seconds,
                "rate": len(lat) / seconds if seconds else 0.0, "p50": pct(50), "p90": pct(90), "p99": pct(99),
                "max": lat[-1] if lat else float("nan"), "mean": sum(lat) / len(lat) if lat else float("nan"),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())}, "errors": dict(self.errors)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["hold", "webhook"])
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--remote-ids", default="")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--webhook-token", default="")
    args = parser.parse_args(argv)
    json.dump(asyncio.run(Run(args).main()), sys.stdout)


if __name__ == "__main__":
    main()
