"""The baseline: a bare FastAPI app with the daemon's routes' shape that answers at once.

Same FastAPI, same uvicorn and the same ``uvicorn.Config`` as ``tevo_bridge.daemon.serve``,
in its own process on the same host: what is left when the store, the POS and the
checks are taken away.  Each route reads the body and answers a JSON body of the
same shape as the real one; nothing is parsed, checked or written.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import Response

from tevo_bridge import eventloop

HELD = (b'{"status":"held","global_id":"G-123","hold_id":"G-123","remote_id":"TG-1001","quantity":1,'
        b'"expires_at":"2026-01-31T18:15:00Z"}')
Endpoint = Callable[[Request], Awaitable[Response]]


async def livez() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def hold(request: Request) -> Response:
    await request.body()
    return Response(HELD, media_type="application/json")


async def webhook(request: Request, token: str) -> Response:
    await request.body()
    return Response(b'{"status":"received"}', media_type="application/json")


def build(hold: Endpoint = hold, webhook: Callable[[Request, str], Awaitable[Response]] = webhook) -> FastAPI:
    """The app with these two endpoints (benchmarks/durable_bare.py gives its own, same paths and bytes)."""
    built = FastAPI(docs_url=None, redoc_url=None)
    built.get("/livez")(livez)
    built.get("/readyz")(livez)  # what the balancing proxy's health check asks
    built.post("/order-integration/holds")(hold)
    built.post("/webhooks/tevo/{token}")(webhook)
    return built


app = build()


def uvicorn_config(app: FastAPI, port: int, http: str = "h11") -> uvicorn.Config:
    # The daemon's loop (uvloop where installed). The parser is h11 unless asked: the bare endpoint is issue 24's
    # fixed yardstick, measured on h11 from the start; the daemon has run on httptools since (its [server]
    # http_parser = "auto"), and the intake suite loads a second bare endpoint on httptools (``--http httptools``)
    # so the notes can tell the parser's gain from the rest.
    return uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on",
                          timeout_graceful_shutdown=2, loop=eventloop.chosen(), http=http)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http", choices=("h11", "httptools"), default="h11", help="uvicorn's HTTP parser")
    args = parser.parse_args()
    uvicorn.Server(uvicorn_config(app, args.port, args.http)).run()


if __name__ == "__main__":
    main()
