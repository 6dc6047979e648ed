"""``PlainRoute``: a FastAPI route that hands the request straight to its endpoint.

The intake routes take only the ``Request`` (and ``str`` path parameters): they read and check the body
themselves, after the key or token check, so FastAPI's per-request handler (dependency solving, body and
parameter validation, response serialisation) finds nothing to do, yet cost a hold and a webhook ack a
visible share of their CPU (benchmarks/NOTES.md, "Where a request's CPU goes"). The route keeps
everything else of ``APIRoute``: matching, the OpenAPI document, and the app's exception handlers (the
handler still runs inside Starlette's exception wrapping).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


class PlainRoute(APIRoute):
    """For endpoints ``async def f(request: Request, **path_params: str) -> Response`` only (checked)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        _check_plain(path, endpoint, self.param_convertors)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(request, **request.path_params)
            return response

        return handler


def _check_plain(path: str, endpoint: Callable[..., Any], convertors: dict[str, Any]) -> None:
    """Refuse at start-up an endpoint that would need FastAPI's handler: anything but the request and
    ``str`` path parameters would silently arrive unconverted and unvalidated."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"PlainRoute {path}: the endpoint must be async")
    params = list(inspect.signature(endpoint, eval_str=True).parameters.values())
    if not params or params[0].annotation is not Request:
        raise TypeError(f"PlainRoute {path}: the endpoint's first parameter must be the Request")
    for param in params[1:]:
        if param.name not in convertors or param.annotation is not str:
            raise TypeError(f"PlainRoute {path}: {param.name} must be a str path parameter")
