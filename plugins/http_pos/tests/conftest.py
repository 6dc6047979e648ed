"""Fixtures: the reference server on a loopback port (seeded with the contract suite's inventory), the plugin over
it, and the OpenAPI document every exchange the server handled is held to after each test."""

from __future__ import annotations

import json
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jsonschema_rs
import pytest
import yaml
from tevo_bridge_http_pos import HttpPos
from tevo_bridge_http_pos.reference import Exchange, Faults, RunningReference, openapi_text, running

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: Served by the reference server but not part of the API: the document itself, and where files_as_urls points.
OUTSIDE_THE_API = re.compile(r"^/(openapi\.yaml|files/[^/]+)$")


class OpenApi:
    """openapi.yaml as a checker of exchanges: the operation, its parameters, its request body and its answer."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.routes = [(re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "(?P<p>[^/]+)", re.escape(template)) + "$"), ops)
                       for template, ops in document["paths"].items()]

    def _valid(self, schema: dict[str, Any], instance: object) -> list[str]:
        root = {"$schema": DRAFT, "components": self.document["components"], **schema}
        return [error.message for error in jsonschema_rs.validator_for(root).iter_errors(instance)]

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node and node["$ref"].startswith("#/components/") and not node["$ref"].startswith(
                "#/components/schemas/"):
            _, _, kind, name = node["$ref"].split("/")
            node = self.document["components"][kind][name]
        return node

    def _schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A parameter's schema, its ``$ref`` to a named schema followed (to tell an integer from a string)."""
        ref = schema.get("$ref", "")
        return self.document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema

    def problems(self, exchange: Exchange) -> list[str]:
        where = f"{exchange.method} {exchange.path}"
        if OUTSIDE_THE_API.match(exchange.path):
            return []
        operation = next((ops.get(exchange.method.lower()) for pattern, ops in self.routes
                          if pattern.match(exchange.path)), None)
        if operation is None:
            return [f"{where}: no such operation in openapi.yaml"]
        found = [f"{where}: {p}" for p in self._parameters(operation, exchange)]
        if exchange.status != 401:  # an unauthenticated request is refused before its body matters
            found += [f"{where} request: {p}" for p in self._request(operation, exchange)]
        return found + [f"{where} answer {exchange.status}: {p}" for p in self._response(operation, exchange)]

    def _parameters(self, operation: dict[str, Any], exchange: Exchange) -> list[str]:
        query = parse_qs(exchange.query, keep_blank_values=True)
        found: list[str] = []
        for parameter in map(self._resolve, operation.get("parameters", [])):
            name, place, schema = parameter["name"], parameter["in"], self._schema(parameter["schema"])
            values = (query.get(name) if place == "query" else
                      [exchange.headers[name.lower()]] if place == "header" and name.lower() in exchange.headers
                      else None)
            if place == "path":
                continue  # matched by the route pattern; its type is checked by the server's answer (404/400)
            if values is None:
                if parameter.get("required") and exchange.status != 401:
                    found.append(f"required {place} parameter {name} missing")
                continue
            if schema.get("type") == "array":
                found += self._valid(schema, values)
            elif schema.get("type") == "integer":
                found += [f"{name}={v!r} is not an integer" for v in values if not re.fullmatch(r"-?\d+", v)]
                found += [f"{name}: {m}" for v in values if re.fullmatch(r"-?\d+", v) for m in self._valid(schema, int(v))]
            else:
                found += [f"{name}: {m}" for v in values for m in self._valid(schema, v)]
        return found

    def _request(self, operation: dict[str, Any], exchange: Exchange) -> list[str]:
        body = operation.get("requestBody")
        if body is None:
            return [] if not exchange.body else ["a body was sent to an operation that takes none"]
        return self._valid(body["content"]["application/json"]["schema"], json.loads(exchange.body or b"null"))

    def _response(self, operation: dict[str, Any], exchange: Exchange) -> list[str]:
        answers = operation["responses"]
        answer = answers.get(str(exchange.status)) or answers.get("default")
        if answer is None:
            return ["status not in openapi.yaml"]
        schema = self._resolve(answer)["content"]["application/json"]["schema"]
        try:
            instance = json.loads(exchange.answer)
        except ValueError:
            return [f"not JSON: {exchange.answer[:80]!r}"]
        return self._valid(schema, instance)


@pytest.fixture(scope="session")
def openapi() -> OpenApi:
    return OpenApi(yaml.safe_load(openapi_text()))


@pytest.fixture
def token() -> str:
    return "tok-" + secrets.token_hex(16)


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def reference(tmp_path: Path, pos_inventory, token: str, faults: Faults, openapi: OpenApi,
              ) -> Iterator[RunningReference]:
    """The reference server; after the test, every exchange it handled must match openapi.yaml."""
    with running(pos_inventory, db=tmp_path / "pos.sqlite3", token=token, faults=faults) as server:
        yield server
    problems = [problem for exchange in server.exchanges for problem in openapi.problems(exchange)]
    assert not problems, "the reference server strayed from openapi.yaml:\n" + "\n".join(problems)


class FaultyPlugins:
    """``make(**faults)``: the plugin over a second reference server on the same database, with those ``Faults``:
    the same stock, so a test can look through a healthy plugin at what the faulty one did. ``servers`` are the
    servers made, in order."""

    def __init__(self, reference: RunningReference, stack: ExitStack) -> None:
        self.reference, self.stack = reference, stack
        self.servers: list[RunningReference] = []
        self.plugins: list[HttpPos] = []

    def __call__(self, **faults: Any) -> HttpPos:
        server = self.stack.enter_context(running(db=self.reference.store.path, token=self.reference.token,
                                                  faults=Faults(**faults)))
        self.servers.append(server)
        self.plugins.append(HttpPos(HttpPos.Config.model_validate(server.plugin_settings())))
        return self.plugins[-1]


@pytest.fixture
def make_faulty_plugin(reference: RunningReference, openapi: OpenApi) -> Iterator[FaultyPlugins]:
    with ExitStack() as stack:
        made = FaultyPlugins(reference, stack)
        yield made
        for plugin in made.plugins:
            plugin.client.close()
    problems = [problem for server in made.servers for exchange in server.exchanges
                for problem in openapi.problems(exchange)]
    assert not problems, "the reference server strayed from openapi.yaml:\n" + "\n".join(problems)


@pytest.fixture
def make_plugin(reference: RunningReference) -> Iterator[Callable[..., HttpPos]]:
    """``make_plugin(**settings)``: the plugin over the reference server (not started: a host starts it)."""
    plugins: list[HttpPos] = []

    def make(**changes: object) -> HttpPos:
        plugin = HttpPos(HttpPos.Config.model_validate(reference.plugin_settings(**changes)))
        plugins.append(plugin)
        return plugin

    yield make
    for plugin in plugins:
        plugin.client.close()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on: the port was taken and let go."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/pos"
