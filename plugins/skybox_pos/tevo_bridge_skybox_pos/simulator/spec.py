"""SkyBox's own models as the simulator's referee: request bodies SkyBox would refuse are refused, and
(with ``SimSettings.spec_check``) every answer the simulator gives is checked against the model SkyBox's
client would parse it into, so the simulator cannot drift into shapes live SkyBox never sends.

The schemas are ``skybox_models.json``, derived from SkyBox's generated client by
``plugins/skybox_pos/tools/derive_schemas.py`` (its header names the source commit and licence).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema_rs

__all__ = ["Operation", "Spec", "spec"]

_LIST = re.compile(r"^List\[(\w+)\]$")

#: Where live SkyBox is known to answer a list of the model the spec declares one of (the simulator's
#: ``line_tickets`` setting): a line of three tickets has three.
LISTS_LIVE = frozenset({"GET /invoices/{invoice-id}/lines/{line-id}/tickets"})


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    body: str | None
    responses: dict[str, str | None]


class Spec:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.defs: dict[str, Any] = document["$defs"]
        self.operations = [
            Operation(method, path, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), op.get("body"),
                      op["responses"])
            for key, op in document["x-operations"].items() for method, _, path in [key.partition(" ")]
        ]

    @property
    def source(self) -> str:
        src = self.document["x-source"]
        return f"{src['repository']}@{src['commit'][:12]}"

    def operation(self, method: str, path: str) -> Operation | None:
        # A literal segment beats a placeholder (``/customers/defaults`` is not ``/customers/{customer-id}``).
        found = [op for op in self.operations if op.method == method and op.pattern.match(path)]
        return min(found, key=lambda op: op.template.count("{"), default=None)

    @functools.cache  # noqa: B019 - one Spec per process, loaded once
    def _validator(self, model: str) -> Any:
        return jsonschema_rs.validator_for({"$ref": f"#/$defs/{model}", "$defs": self.defs})

    def problems(self, model: str, value: Any, where: str) -> list[str]:
        """What in ``value`` SkyBox's ``model`` refuses, each naming the field (``where.path.to.field``)."""
        list_of = _LIST.match(model)
        if list_of:
            rows = value.get("rows") if isinstance(value, dict) and "rows" in value else value
            if not isinstance(rows, list):
                return [f"{where}: expected a list of {list_of[1]} (or {{rows, rowCount}}), got {type(value).__name__}"]
            return [p for n, row in enumerate(rows) for p in self.problems(list_of[1], row, f"{where}[{n}]")]
        return [f"{'.'.join([where, *map(str, e.instance_path)])}: {_short(e.message)}"
                for e in self._validator(model).iter_errors(value)]

    def request_problems(self, method: str, path: str, body: Any) -> list[str]:
        op = self.operation(method, path)
        if op is None or op.body is None:
            return []
        return self.problems(op.body, body, _lower_first(op.body.removeprefix("List[").rstrip("]")))

    def response_problems(self, method: str, path: str, status: int, body: Any) -> list[str]:
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: SkyBox's spec has no such operation"]
        if not 200 <= status < 300:
            return []  # error bodies are not modelled (open question 14)
        model = op.responses.get(str(status), op.responses.get("200"))
        if model is None or body is None or not model[0].isupper():
            return []
        if isinstance(body, list) and f"{method} {op.template}" in LISTS_LIVE:
            model = f"List[{model}]"
        return [f"{method} {path}: {p}" for p in self.problems(model, body, "answer")]


def _short(message: str, most: int = 240) -> str:
    """jsonschema's messages quote the whole value: a ticket's base64 PDF would swamp the error body."""
    return message if len(message) <= most else f"{message[:most]}..."


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


@functools.cache
def spec() -> Spec:
    text = resources.files("tevo_bridge_skybox_pos").joinpath("skybox_models.json").read_text()
    return Spec(json.loads(text))
