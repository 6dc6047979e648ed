"""Client CPU per TEvo call, by HTTP transport: ``python -m benchmarks.tevo_calls [--rounds N] [--calls N]``.

A keep-alive HTTP/1.1 server in another process (asyncio on uvloop, every answer the sample order, pretty-printed
as TEvo sends it) answers TevoClient's signed calls on loopback: GETs (``orders.show``) and POSTs with a JSON body
(``orders.accept``), ``--concurrency`` at a time (the daemon's ``[tevo] max_concurrency``, 4), on uvloop as the
daemon runs. Each round times both transports, ``builtin`` (tevo/transport.py) and ``httpcore`` (httpx's
default), in alternating order, each on a fresh client: ``time.process_time`` of this process over ``--calls``
calls after 200 warm-up calls, so the figure is the client's CPU per call (signing, httpx, the transport, the
JSON decode; not the server's). Printed per round, then the median ratio builtin/httpcore with its min-max
spread (benchmarks/rounds.py). CPU time per call survives the machine's load far better than latencies do.

``--drains N``: the effect on the daemon instead. N alternating pairs of quick drains (benchmarks/drain.py, 100
mixed orders from the sandbox), one daemon with ``[tevo] http_transport = "builtin"`` and one with ``"httpcore"``,
same code otherwise; printed per pair: daemon CPU per order, drained ÷ announced, TEvo calls per order, idle RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import httpx

from benchmarks.rounds import Spread, alternate_all
from tests.cassettes.record import SECRET, TOKEN, fixture
from tevo_bridge.log import configure_logging
from tevo_bridge.serve import free_port
from tevo_bridge.tevo.client import ClientOptions, TevoClient
from tevo_bridge.tevo.transport import TransportKind

WARM_UP = 200
KINDS: tuple[TransportKind, ...] = ("builtin", "httpcore")
ORDER = json.dumps(fixture("office_sale_eticket"), indent=2).encode()

SERVER = '''
import asyncio, sys, uvloop
port, body_file = int(sys.argv[1]), sys.argv[2]
body = open(body_file, "rb").read()
answer = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/vnd.ticketevolution.api+json; version=9\\r\\n"
          b"Content-Length: %d\\r\\n\\r\\n" % len(body)) + body

async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    await reader.readexactly(int(line.split(b":")[1]))
            writer.write(answer)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=64)
    print("ready", flush=True)
    await server.serve_forever()

uvloop.run(main())
'''


@contextmanager
def order_server(folder: Path) -> Iterator[str]:
    """The answering server in its own process; yields its base URL."""
    body = folder / "order.json"
    body.write_bytes(ORDER)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(body)], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


async def _calls(tevo: TevoClient, method: str, count: int, concurrency: int) -> None:
    """``count`` calls, ``concurrency`` at a time, each worker one call after the other."""
    left = iter(range(count))

    async def worker() -> None:
        for n in left:
            if method == "GET":
                await tevo._get(f"/orders/{n}", endpoint="orders.show")
            else:
                await tevo._post(f"/orders/{n}/accept", {"reviewer_id": 4711}, endpoint="orders.accept")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def canned(body: bytes) -> httpx.MockTransport:
    """The floor: httpx and TevoClient with no network at all, every answer the same Response."""
    headers = {"Content-Type": "application/vnd.ticketevolution.api+json; version=9"}
    return httpx.MockTransport(lambda request: httpx.Response(200, content=body, headers=headers))


def cpu_per_call(base_url: str, kind: TransportKind | Literal["mock"], method: str, calls: int,
                 concurrency: int, body: bytes = b"") -> float:
    """Client CPU seconds per call for one transport, on a fresh client and a fresh uvloop."""
    import uvloop

    async def measure() -> float:
        options = ClientOptions(max_concurrency=concurrency, http_transport="httpcore" if kind == "mock" else kind,
                                max_retries=0)
        mock = canned(body) if kind == "mock" else None
        async with TevoClient(base_url, TOKEN, SECRET, options, mock) as tevo:
            await _calls(tevo, method, WARM_UP, concurrency)
            started = time.process_time()
            await _calls(tevo, method, calls, concurrency)
            return (time.process_time() - started) / calls

    return uvloop.run(measure())


def _ms(results: list[dict[str, float]]) -> str:
    return Spread.of([r["cpu"] * 1e3 for r in results]).text(3, " ms")


def _above_floor(builtin: list[dict[str, float]], httpcore: list[dict[str, float]],
                 floor: list[dict[str, float]]) -> Spread:
    return Spread.of([(b["cpu"] - f["cpu"]) / (h["cpu"] - f["cpu"])
                      for b, h, f in zip(builtin, httpcore, floor, strict=True) if h["cpu"] > f["cpu"]])


def drains(pairs: int) -> int:
    """Quick drains, the daemon on each transport in turn (alternating order), per pair and as median ratios."""
    from benchmarks import drain

    def one(kind: TransportKind) -> Callable[[int], dict[str, float]]:
        def run(n: int) -> dict[str, float]:
            with tempfile.TemporaryDirectory(prefix=f"tevo-drain-{kind}-") as tmp:
                _, raw = drain.run(Path(tmp), quick=True, tevo={"http_transport": kind})
            orders = raw["orders_created"]
            result = {"cpu_ms": raw["daemon_cpu_share"] * raw["drain_seconds"] / orders * 1e3,
                      "drained_rate": orders / raw["drain_seconds"],
                      "announced_rate": drain.announced_rate(raw),
                      "tevo_calls": sum(raw["calls"]["tevo"].values()) / orders,
                      "rss_idle_mb": raw["rss_idle_mb"], "unsettled": raw["unsettled"] + raw["unexpected_count"]}
            print(f"pair {n + 1}, {kind}: {result['cpu_ms']:.1f} ms daemon CPU per order, drained "
                  f"{result['drained_rate']:.1f}/s against {result['announced_rate']:.1f}/s announced "
                  f"({result['drained_rate'] / result['announced_rate']:.2f}×), {result['tevo_calls']:.2f} TEvo "
                  f"calls per order, idle RSS {result['rss_idle_mb']:.1f} MiB, {result['unsettled']:.0f} unsettled "
                  f"or unexpected", flush=True)
            return result
        return run

    builtin, httpcore = alternate_all(pairs, one("builtin"), one("httpcore"))
    for key, what in (("cpu_ms", "daemon CPU per order"), ("drained_rate", "drained rate"),
                      ("rss_idle_mb", "idle RSS")):
        ratio = Spread.of([b[key] / h[key] for b, h in zip(builtin, httpcore, strict=True)])
        print(f"{what}, builtin ÷ httpcore per pair (median of {pairs}, min–max): {ratio.text(2, '×')}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tevo_calls", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per transport per round")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--methods", default="GET,POST")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 500 calls: a smoke run")
    parser.add_argument("--drains", type=int, default=0, help="instead: N pairs of quick drains, builtin vs httpcore")
    args = parser.parse_args(argv)
    if args.drains:
        return drains(args.drains)
    rounds, calls = (3, 500) if args.quick else (args.rounds, args.calls)
    configure_logging("info", "json")  # as the daemon runs: the per-call debug line is filtered, not written
    with tempfile.TemporaryDirectory(prefix="tevo-calls-") as tmp, order_server(Path(tmp)) as base_url:
        for method in args.methods.split(","):
            loads = [lambda n, kind=kind, method=method: {  # type: ignore[misc]
                "cpu": cpu_per_call(base_url, kind, method, calls, args.concurrency, ORDER)}
                for kind in (*KINDS, "mock")]
            builtin, httpcore, mock = alternate_all(rounds, *loads)
            for n, (b, h, m) in enumerate(zip(builtin, httpcore, mock, strict=True)):
                print(f"round {n + 1}, {method}: builtin {b['cpu'] * 1e3:.3f} ms, httpcore {h['cpu'] * 1e3:.3f} ms, "
                      f"no network {m['cpu'] * 1e3:.3f} ms per call: builtin/httpcore {b['cpu'] / h['cpu']:.2f}×",
                      flush=True)
            ratio = Spread.of([b["cpu"] / h["cpu"] for b, h in zip(builtin, httpcore, strict=True)])
            print(f"{method} at {args.concurrency} concurrent ({len(ORDER):,}-byte answer), client CPU per call "
                  f"(median of {rounds} rounds, min–max): builtin {_ms(builtin)}, httpcore {_ms(httpcore)}, "
                  f"no network (httpx.MockTransport) {_ms(mock)}; builtin/httpcore {ratio.text(2, '×')}; "
                  f"the transport's own share, (builtin - no network)/(httpcore - no network): "
                  f"{_above_floor(builtin, httpcore, mock).text(2, '×')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
