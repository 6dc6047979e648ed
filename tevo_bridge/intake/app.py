"""The ASGI apps: Order Integration, webhooks, health and metrics on one FastAPI server, or metrics and
the OpenAPI document on a separate admin app when ``[server] admin_port`` is set."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import RedirectResponse, Response

from tevo_bridge import __version__
from tevo_bridge.asgi_guard import CrashGuard
from tevo_bridge.intake import order_integration, webhooks
from tevo_bridge.intake.hotpath import hot
from tevo_bridge.intake.http import BodyLimit, BodyTooLarge, json_response
from tevo_bridge.intake.refusals import RefusalLog
from tevo_bridge.log import get_logger
from tevo_bridge.metrics import MetricsEndpoint
from tevo_bridge.store import StoreError

if TYPE_CHECKING:  # annotations only: tevo_bridge.seams imports modules that import this one
    from tevo_bridge.seams import AppRuntime, HealthRuntime

log = get_logger(__name__)

WORKER_STALE_SECONDS = 30.0
#: FastAPI's native OpenTelemetry is off: the daemon configures no providers, and asking whether one was
#: configured (environment look-ups) cost every request ~2% of its CPU (benchmarks/NOTES.md).
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(runtime: AppRuntime, lifespan: Any = None, *, admin_elsewhere: bool = False) -> FastAPI:
    """The routes; serve it wrapped in ``with_body_limit`` (as ``daemon.build_app`` does).

    With ``admin_elsewhere`` (``[server] admin_port`` set), ``/metrics`` and ``/openapi.json`` are
    left to ``create_admin_app``'s listener: the internet-facing one then shows only intake paths
    and health.
    """
    app = FastAPI(title="tevo-bridge", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None if admin_elsewhere else "/openapi.json", telemetry=NO_TELEMETRY)
    app.state.runtime = runtime
    app.include_router(order_integration.build_router(runtime))
    app.include_router(webhooks.build_router(runtime))
    add_health_routes(app, runtime, metrics=not admin_elsewhere, details=False)
    add_error_handlers(app)
    return app


def create_admin_app(runtime: AppRuntime, public: FastAPI) -> FastAPI:
    """The admin listener's app: health, metrics, the public app's OpenAPI document, the dashboard.

    No Swagger UI (/docs): it loaded scripts from a public CDN into the dashboard's origin. With the
    dashboard's login on, /openapi.json is behind it (``dashboard.add_openapi_route``); /metrics stays
    open for Prometheus (counts and timings, no buyer data).
    """
    app = FastAPI(title="tevo-bridge admin", version=__version__, openapi_url=None, docs_url=None, redoc_url=None)
    add_health_routes(app, runtime, metrics=True)
    dashboard = runtime.settings.dashboard
    if dashboard.enabled and dashboard.auth != "none":
        from tevo_bridge.dashboard import PREFIX
        from tevo_bridge.dashboard.app import add_openapi_route

        @app.get("/openapi.json", include_in_schema=False)
        async def openapi_behind_login() -> Response:
            return RedirectResponse(PREFIX + "/openapi.json", status_code=307)
    else:
        @app.get("/openapi.json", include_in_schema=False)
        async def openapi() -> Response:
            return json_response(200, public.openapi())

    add_error_handlers(app)
    if dashboard.enabled:
        from tevo_bridge.dashboard import mount_dashboard

        dash_app = mount_dashboard(app, runtime)
        if dashboard.auth != "none":
            add_openapi_route(dash_app, public.openapi)
    return app


def add_health_routes(app: FastAPI, runtime: HealthRuntime, *, metrics: bool, details: bool = True) -> None:
    """/livez and /readyz on both listeners (a load balancer checks the public one), /metrics where asked.

    Without ``details`` (the public listener), /readyz says only ready or not: the checks' errors (a POS or
    store message, with host names or paths) are for the operator, on the admin listener.
    """
    @app.get("/livez", tags=["Health"])
    async def livez() -> Response:
        return json_response(200, {"status": "ok"})

    @app.get("/readyz", tags=["Health"])
    async def readyz() -> Response:
        checks = await readiness(runtime)
        ready = all(check["ok"] for check in checks.values())
        answer: dict[str, Any] = {"status": "ready" if ready else "not_ready"}
        if details:
            answer["checks"] = checks
        return json_response(200 if ready else 503, answer)

    if not metrics:
        return
    endpoint = MetricsEndpoint()

    @app.get("/metrics", tags=["Health"])
    async def metrics_route() -> Response:
        return Response(await endpoint.render(runtime), media_type=CONTENT_TYPE_LATEST)


def add_error_handlers(app: FastAPI) -> None:
    """Every answer is JSON with a ``status``, errors included, on either listener."""
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return json_response(exc.status_code, {"status": "error", "error": reason})

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors: dict[str, list[str]] = {}
        for error in exc.errors():
            errors.setdefault(".".join(map(str, error["loc"])), []).append(error["msg"])
        return json_response(422, {"status": "invalid", "errors": errors})

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge) -> Response:
        return exc.response()

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client left, or sent its body too slowly ([server] body_timeout): not the daemon's fault, and
        # the answer goes nowhere.
        log.info("intake.client_gone", path=request.url.path)
        return Response(status_code=400)

    @app.exception_handler(StoreError)
    async def store_failed(request: Request, exc: StoreError) -> Response:
        # Handled here rather than as a crash: the answer is complete and the connection stays usable (a
        # balancing proxy reusing it would otherwise see it reset and answer 502).
        log.warning("intake.store_unavailable", path=request.url.path, error=str(exc))
        return json_response(503, {"status": "error", "error": "temporarily_unavailable"})

    # Any other exception: most often the store could not commit (disk full, read-only), and 503 makes TEvo
    # try again. Answered by CrashGuard rather than an Exception handler, so the connection survives it.
    app.add_middleware(CrashGuard, answer=crashed, event="intake.error")


def crashed(request: Request, exc: Exception) -> Response:
    return json_response(503, {"status": "error", "error": "temporarily_unavailable"})


def with_body_limit(app: FastAPI, max_bytes: int, refusals: RefusalLog | None = None) -> BodyLimit:
    """Bodies over the limit are refused with 413 (and logged): at once if Content-Length says so, else as soon as
    a route has read more (routes read only after the key or token check). The intake's own routes are served
    by ``HotPaths``, past FastAPI's stack."""
    served = hot(app, crashed, "intake.error")
    if refusals is None:
        return BodyLimit(served, max_bytes)

    def refused(scope: Any) -> None:
        path = scope.get("path", "")
        channel = "webhook" if path.startswith("/webhooks/") else "order_integration"
        refusals.note(Request(scope), channel, "body_too_large", 413, max_bytes=max_bytes)

    return BodyLimit(served, max_bytes, refused)


async def readiness(runtime: HealthRuntime) -> dict[str, dict[str, Any]]:
    checks: dict[str, dict[str, Any]] = {}
    try:
        await runtime.store.check_writable()
        checks["store"] = {"ok": True}
    except Exception as exc:
        checks["store"] = {"ok": False, "error": str(exc)}
    trouble = runtime.pos_trouble()
    # Unknown health (no pos_health hook) is not failing; the host caches the answer, so polling is cheap.
    probe = await runtime.pos.health() if runtime.pos is not None else None
    healthy = probe is None or probe.ok is not False
    checks["plugin"] = {"ok": runtime.pos is not None and trouble is None and healthy,
                        "name": runtime.settings.pos.plugin}
    if trouble:
        checks["plugin"]["error"] = trouble
    if probe is not None:
        checks["plugin"]["health"] = {"ok": probe.ok, "reason": probe.reason or None}
    worker = runtime.worker
    age = time.monotonic() - worker.last_tick if worker else None
    checks["worker"] = {"ok": age is not None and age < WORKER_STALE_SECONDS,
                        "last_tick_seconds_ago": round(age, 1) if age is not None else None}
    return checks
