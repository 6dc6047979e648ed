"""Derive JSON Schemas of SkyBox's models from SkyBox's generated Python client, without copying its code.

SkyBox publishes its API as a generated client (``Evizent/skybox_openapi_client``, OpenAPI Generator,
pydantic v2 models). The simulator is held to those models: this script reads the client's
``models/*.py`` and ``api/*.py`` as text (``ast``, nothing imported or executed) and writes the facts
the simulator's schema check needs (field names, types, required fields, enums, bounds, and which
model each endpoint takes and answers) to ``tevo_bridge_skybox_pos/skybox_models.json``.

    python plugins/skybox_pos/tools/derive_schemas.py --git-dir /path/to/skybox_openapi_client.git
    python plugins/skybox_pos/tools/derive_schemas.py --checkout /path/to/skybox_openapi_client

Reading a checkout or a bare git directory (``git show``) keeps the commit id in the output, so the
file says exactly which version of SkyBox's spec the simulator follows.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SOURCE_REPO = "https://github.com/Evizent/skybox_openapi_client"
PACKAGE = "skybox_openapi_client"
OUT = Path(__file__).resolve().parents[1] / "tevo_bridge_skybox_pos" / "skybox_models.json"

#: The models the plugin and the simulator exchange; the models they contain are added by the walk.
ROOTS = ("Account", "Customer", "DefaultCustomer", "ExchangePosIdHistoryResponse", "Hold", "HoldRequest",
         "Inventory", "InventorySummary", "Invoice", "InvoiceTicket", "Line", "Ticket")
#: The endpoints the simulator serves (the plugin calls all but ``/inventory/{id}/hold``, which drops every
#: hold on a listing): "METHOD /path" as the client spells it.
OPERATIONS = (
    "GET /account", "GET /inventory", "GET /inventory/{inventory-id}", "PUT /inventory/{inventory-id}",
    "GET /inventory/exchange_pos_id/{exchangePosId}", "GET /inventory/{inventory-id}/hold",
    "DELETE /inventory/{inventory-id}/hold", "POST /holds", "GET /holds", "GET /holds/{hold-id}",
    "DELETE /holds/{hold-id}", "GET /customers", "POST /customers", "GET /customers/{customer-id}",
    "GET /customers/defaults", "POST /invoices", "GET /invoices", "GET /invoices/{invoice-id}",
    "PUT /invoices/{invoice-id}", "GET /invoices/{invoice-id}/lines",
    "DELETE /invoices/{invoice-id}/lines/{line-id}", "GET /invoices/{invoice-id}/lines/{line-id}/tickets",
    "GET /assets/{filename}",
)

SCALARS: dict[str, dict[str, Any]] = {
    "StrictInt": {"type": "integer"}, "int": {"type": "integer"},
    "StrictStr": {"type": "string"}, "str": {"type": "string"},
    "StrictBool": {"type": "boolean"}, "bool": {"type": "boolean"},
    "StrictFloat": {"type": "number"}, "float": {"type": "number"},
    "datetime": {"type": "string", "format": "date-time"}, "date": {"type": "string", "format": "date"},
    "object": {}, "Any": {},
}
BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum",
          "min_length": "minLength", "max_length": "maxLength"}


class Source:
    """The client's files, from a checkout or a bare git directory, and the commit they are at."""

    def __init__(self, read: Callable[[str], str], names: list[str], commit: str) -> None:
        self.read, self.names, self.commit = read, names, commit

    @classmethod
    def from_git(cls, git_dir: Path) -> Source:
        def git(*args: str) -> str:
            return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True,
                                  text=True).stdout
        return cls(lambda name: git("show", f"HEAD:{name}"), git("ls-tree", "-r", "--name-only", "HEAD").split(),
                   git("rev-parse", "HEAD").strip())

    @classmethod
    def from_checkout(cls, root: Path) -> Source:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or "unknown"
        names = [str(p.relative_to(root)) for p in root.rglob("*.py")]
        return cls(lambda name: (root / name).read_text(), names, commit)


# -- models ------------------------------------------------------------------------------------------


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _field_call(node: ast.expr | None) -> ast.Call | None:
    return node if isinstance(node, ast.Call) and _name(node.func) == "Field" else None


def _bounds(call: ast.Call | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kw in call.keywords if call else []:
        if kw.arg in BOUNDS and isinstance(kw.value, ast.Constant):
            out[BOUNDS[kw.arg]] = kw.value.value
    return out


def type_schema(node: ast.expr) -> tuple[dict[str, Any], bool]:
    """The JSON Schema of a type annotation, and whether it is ``Optional`` (null allowed)."""
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}, True
    if not isinstance(node, ast.Subscript):
        name = _name(node) if not isinstance(node, ast.Constant) else str(node.value)
        return (dict(SCALARS[name]) if name in SCALARS else {"$ref": f"#/$defs/{name}"}), False
    outer = _name(node.value)
    args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if outer == "Optional":
        inner, _ = type_schema(args[0])
        return inner, True
    if outer == "List":
        return {"type": "array", "items": type_schema(args[0])[0]}, False
    if outer == "Dict":
        return {"type": "object"}, False
    if outer == "Annotated":
        base, _ = type_schema(args[0])
        return base | _bounds(_field_call(args[1]) if len(args) > 1 else None), False
    if outer == "Union":
        options = [type_schema(a)[0] for a in args]
        if all(o.get("type") in ("integer", "number") for o in options):
            merged: dict[str, Any] = {"type": "number"}
            for o in options:
                merged |= {k: v for k, v in o.items() if k != "type"}
            return merged, False
        return {"anyOf": options}, False
    raise ValueError(f"unknown annotation {ast.unparse(node)}")


def _validators(cls: ast.ClassDef) -> dict[str, dict[str, Any]]:
    """Enums (``set([...])``) and patterns (``re.match(r"...")``) from the ``field_validator`` methods."""
    out: dict[str, dict[str, Any]] = {}
    for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
        fields = [a.value for d in fn.decorator_list if isinstance(d, ast.Call) and _name(d.func) == "field_validator"
                  for a in d.args if isinstance(a, ast.Constant)]
        if not fields:
            continue
        found: dict[str, Any] = {}
        per_item = any(isinstance(n, ast.For) for n in ast.walk(fn))
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and _name(node.func) == "set" and node.args and isinstance(node.args[0],
                                                                                                   ast.List):
                found["enum"] = [e.value for e in node.args[0].elts if isinstance(e, ast.Constant)]
            if isinstance(node, ast.Call) and _name(node.func) == "match" and isinstance(node.args[0], ast.Constant):
                found["pattern"] = node.args[0].value
        if found:
            out[str(fields[0])] = {"items": found} if per_item else found
    return out


def model_schema(cls: ast.ClassDef) -> dict[str, Any]:
    if any(isinstance(n, ast.AnnAssign) and _name(n.target) == "actual_instance" for n in cls.body):
        return _one_of(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    checks = _validators(cls)
    for node in cls.body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        if _name(node.annotation) == "ClassVar" or (isinstance(node.annotation, ast.Subscript)
                                                     and _name(node.annotation.value) == "ClassVar"):
            continue
        python_name = node.target.id
        schema, optional = type_schema(node.annotation)
        call = _field_call(node.value)
        alias = next((kw.value.value for kw in call.keywords if kw.arg == "alias"
                      and isinstance(kw.value, ast.Constant)), None) if call else None
        has_default = node.value is not None and (call is None or any(kw.arg == "default" for kw in call.keywords))
        check = checks.get(python_name, {})
        if "items" in check and schema.get("type") == "array":
            schema["items"] = schema["items"] | check["items"]
        else:
            schema |= check
        if optional:
            schema = {"anyOf": [schema, {"type": "null"}]}
        wire = alias or python_name
        properties[wire] = schema
        if not has_default:
            required.append(wire)
    return {"type": "object", "properties": properties, "required": required}


def _one_of(cls: ast.ClassDef) -> dict[str, Any]:
    """A oneOf model (``actual_instance``): one of the types of its ``oneof_schema_N_validator`` fields."""
    options = [type_schema(n.annotation)[0] for n in cls.body if isinstance(n, ast.AnnAssign)
               and isinstance(n.target, ast.Name) and n.target.id.startswith("oneof_schema_")]
    return {"anyOf": options}


def models(source: Source) -> dict[str, ast.ClassDef]:
    out: dict[str, ast.ClassDef] = {}
    for name in source.names:
        if name.startswith(f"{PACKAGE}/models/") and name.endswith(".py") and not name.endswith("__init__.py"):
            for node in ast.parse(source.read(name)).body:
                if isinstance(node, ast.ClassDef):
                    out[node.name] = node
    return out


def _refs(schema: Any) -> Iterable[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            yield ref.rpartition("/")[2]
        for value in schema.values():
            yield from _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _refs(value)


def derive_models(classes: dict[str, ast.ClassDef], roots: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = model_schema(classes[name])
        todo += [r for r in _refs(out[name]) if r not in out]
    return dict(sorted(out.items()))


# -- operations --------------------------------------------------------------------------------------


def operations(source: Source, wanted: Iterable[str]) -> dict[str, Any]:
    """For each endpoint: the model its body must be (if any) and the model each status answers."""
    found: dict[str, Any] = {}
    for name in source.names:
        if name.startswith(f"{PACKAGE}/api/") and name.endswith("_api.py"):
            found |= _api_operations(ast.parse(source.read(name)))
    missing = [w for w in wanted if w not in found]
    if missing:
        raise SystemExit(f"the client declares no operation {', '.join(missing)}")
    return {w: found[w] for w in wanted}


def _api_operations(tree: ast.Module) -> dict[str, Any]:
    methods = {n.name: n for c in tree.body if isinstance(c, ast.ClassDef) for n in c.body
               if isinstance(n, ast.FunctionDef)}
    out: dict[str, Any] = {}
    for name, fn in methods.items():
        serialize = methods.get(f"_{name}_serialize")
        if name.startswith("_") or serialize is None:
            continue
        call = {kw.arg: kw.value.value for n in ast.walk(serialize) if isinstance(n, ast.Call)
                for kw in n.keywords if kw.arg in ("method", "resource_path") and isinstance(kw.value, ast.Constant)}
        responses = next((ast.literal_eval(n.value) for n in ast.walk(fn) if isinstance(n, ast.AnnAssign)
                          and _name(n.target) == "_response_types_map" and n.value is not None), {})
        body = [_body_model(a.annotation) for a in fn.args.args if a.annotation is not None]
        op: dict[str, Any] = {"operationId": name, "responses": responses}
        if any(body):
            op["body"] = next(b for b in body if b)
        out[f"{call['method']} {call['resource_path']}"] = op
    return out


def _body_model(annotation: ast.expr) -> str | None:
    """``Annotated[Model, Field(...)]`` (or a list of models): a request body's model."""
    if isinstance(annotation, ast.Subscript) and _name(annotation.value) == "Annotated":
        first = annotation.slice.elts[0] if isinstance(annotation.slice, ast.Tuple) else annotation.slice
        text = ast.unparse(first)
        if re.fullmatch(r"(List\[)?[A-Z]\w*\]?", text) and text not in SCALARS:
            return text
    return None


# -- output ------------------------------------------------------------------------------------------


def derive(source: Source) -> dict[str, Any]:
    classes = models(source)
    ops = operations(source, OPERATIONS)
    roots = set(ROOTS) | {re.sub(r"^List\[(.*)\]$", r"\1", m) for op in ops.values()
                          for m in [op.get("body"), *op["responses"].values()] if m and m[0].isupper()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "SkyBox API models, derived from SkyBox's generated Python client",
        "x-source": {"repository": SOURCE_REPO, "commit": source.commit, "paths": [f"{PACKAGE}/models/*.py",
                                                                                   f"{PACKAGE}/api/*.py"],
                     "generator": "plugins/skybox_pos/tools/derive_schemas.py"},
        "x-licence": ("The source repository has no LICENSE file and declares license = \"NoLicense\" in its "
                      "pyproject.toml. No code of it is copied here: this file states facts about SkyBox's API "
                      "(field names, types, required fields, enums, bounds, endpoints) as its client declares them."),
        "x-operations": ops,
        "$defs": derive_models(classes, sorted(roots)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--git-dir", type=Path, help="a bare clone of Evizent/skybox_openapi_client")
    where.add_argument("--checkout", type=Path, help="a working copy of Evizent/skybox_openapi_client")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    source = Source.from_git(args.git_dir) if args.git_dir else Source.from_checkout(args.checkout)
    args.out.write_text(json.dumps(derive(source), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out} from {SOURCE_REPO} at {source.commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
