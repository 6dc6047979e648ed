"""Part 4: hostile input.  Schemathesis on the Order Integration contract, Hypothesis on webhook forms.

Every request goes to the real daemon over loopback.  Whatever arrives, the
answer is never a 5xx, the daemon stays up, and a request the daemon refuses
(400, 401, 404, 405, 413, 415, 422) leaves nothing behind: the rows an intake
writes (inbox, holds, Order Integration invoices, orders, jobs) and the POS's
holds and invoices are compared before and after each request.

409 is not a refusal of the input: it is a decision (no stock, already
invoiced) that the contract records so a replay gets the same answer.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN, stack

REFUSED = frozenset({400, 401, 404, 405, 413, 415, 422})
OI_OPERATIONS = [("/order-integration/holds", "POST"), ("/order-integration/holds/{global_id}/release", "POST"),
                 ("/order-integration/invoices", "POST")]
MAX_BODY = 64 * 1024  # a small limit, so "huge" is reachable in every run


@dataclass
class HostileRun:
    cases: Counter[str] = field(default_factory=Counter)  # per operation / strategy
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    stored_on_refusal: list[str] = field(default_factory=list)
    alive: bool = False

    def figures(self) -> dict[str, Any]:
        return {"cases": sum(self.cases.values()), "by_kind": dict(sorted(self.cases.items())),
                "statuses": dict(sorted(self.statuses.items())), "server_errors": len(self.server_errors),
                "stored_on_refusal": len(self.stored_on_refusal), "alive": self.alive}


class Snapshot:
    """Counts of everything an intake request could write, in the daemon's store and in the POS."""

    def __init__(self, store_db: Path, pos_db: Path) -> None:
        self.store_db, self.pos_db = store_db, pos_db

    def take(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for db, tables in ((self.store_db, ("inbox", "holds", "oi_invoices", "orders", "jobs")),
                           (self.pos_db, ("holds", "invoices"))):
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
            try:
                for table in tables:
                    counts[f"{db.stem}.{table}"] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            finally:
                conn.close()
        return counts


def run_hostile(tmp: Path, examples: int, seed: int = 0) -> HostileRun:
    result = HostileRun()
    with stack(tmp, log_level="info", server={"max_body_bytes": MAX_BODY},
               pipeline={"max_attempts": 1}) as run:
        base = run.daemon.base_url
        snapshot = Snapshot(tmp / "state.sqlite3", run.pos_db)

        def judge(kind: str, status: int, before: dict[str, int], what: str) -> None:
            result.cases[kind] += 1
            result.statuses[status] += 1
            if status >= 500:
                result.server_errors.append(f"{kind}: {status} for {what[:300]}")
            elif status in REFUSED:
                after = snapshot.take()
                if after != before:
                    changed = {k: (before[k], after[k]) for k in after if after[k] != before.get(k)}
                    result.stored_on_refusal.append(f"{kind}: {status} stored {changed} for {what[:300]}")

        spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
        _fuzz_order_integration(spec, base, examples, seed, snapshot, judge)
        with httpx.Client(base_url=base, timeout=30) as client:
            _fuzz_order_integration_json(client, examples, seed, snapshot, judge)
            _fuzz_webhooks(client, examples, seed, snapshot, judge)
        result.alive = (httpx.get(f"{base}/livez", timeout=10).status_code == 200
                        and not run.daemon.server.should_exit)
    return result


class _NoAnswer:
    status_code = 599  # counted as a server error: the daemon dropped the connection twice


def _post(client: httpx.Client, path: str, content: bytes, headers: dict[str, str]) -> Any:
    """One retry on a fresh connection: a keep-alive connection the server just closed is not an answer."""
    for _ in range(2):
        try:
            return client.post(path, content=content, headers=headers)
        except httpx.TransportError:
            continue
    return _NoAnswer()


def _settings(examples: int, seed: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=seed == 0,
                    suppress_health_check=list(HealthCheck), print_blob=True)


# Order Integration: the contract from the daemon's own OpenAPI document ---------------------------


def _fuzz_order_integration(spec: dict[str, Any], base: str, examples: int, seed: int, snapshot: Snapshot,
                            judge: Any) -> None:
    schema = schemathesis.openapi.from_dict(spec)
    for path, method in OI_OPERATIONS:
        operation = schema[path][method]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            kind = f"schemathesis {method} {path} {mode.value}"

            # fuzz() runs within this iteration, so the loop variables it reads are current (the B023 noqa below).
            @_settings(examples, seed)
            @given(case=operation.as_strategy(mode), keyed=st.booleans())
            def fuzz(case: Any, keyed: bool) -> None:
                # Mostly with the right key, so the body is what gets tested; sometimes with what was generated.
                headers = {"X-Api-Key": API_KEY} if keyed or mode is GenerationMode.POSITIVE else None  # noqa: B023
                before = snapshot.take()
                try:
                    response = case.call(base_url=base, headers=headers, timeout=30)
                except Exception as exc:  # a request the client cannot even send (bad header bytes) is not ours
                    if "Invalid" in str(exc) or "header" in str(exc).lower():
                        return
                    raise
                judge(kind, response.status_code, before, f"{case.path_parameters} {case.headers} {case.body!r}")  # noqa: B023

            fuzz()


# Shared value strategies: text with lone surrogates and control characters, ints past 64 bits ------

_text = st.one_of(st.text(max_size=40), st.text(st.characters(categories=["Cs", "Cc"]), min_size=1, max_size=4))
# Values at the edges that matter here: past SQLite's 64 bits, lone surrogates, digits int() refuses, bombs.
_edge = st.sampled_from([2**63, 2**63 - 1, -(2**63) - 1, 10**30, 1e308, "\ud800", "a\udfff", "²", "١٢", "\x00",
                         "9" * 40, True, [], {}, "", " "])
_big_int = st.one_of(st.integers(min_value=2**63 - 2, max_value=2**70), st.integers(max_value=-(2**63) + 1))
_scalar = st.one_of(st.none(), st.booleans(), st.integers(), _big_int, st.floats(allow_nan=True, allow_infinity=True),
                    _text)
_json_value = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(_text, inner, max_size=4)), max_leaves=12)
_order_id = st.one_of(_edge, st.integers(), st.integers(min_value=1, max_value=2**63 - 1), _big_int, st.text(max_size=30),
                      st.sampled_from(["1", "00042", "-1", "1e3", "9" * 40, "0x10", "²", "١٢"]), st.floats(), st.booleans(),
                      st.none(), st.lists(st.integers(), max_size=2))


@st.composite
def _order_body(draw: Any) -> str:
    body: dict[str, Any] = draw(st.dictionaries(_text, _json_value, max_size=4))
    if draw(st.booleans()):
        body["id"] = draw(_order_id)
    if draw(st.booleans()):
        body["updated_at"] = draw(st.one_of(_text, st.integers(), st.none()))
    return json.dumps(body)


def _bomb(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    if kind == "number":
        return '{"id": 1' + "0" * depth + "}"
    return '{"id": 1, "x": "' + "\\u0000" * depth + '"}'


_bombs = st.builds(_bomb, st.integers(min_value=1, max_value=MAX_BODY // 8),
                   st.sampled_from(["array", "object", "number", "nul"]))
_bodies = st.one_of(_order_body(), _bombs, st.text(max_size=40), st.just(""), st.just("null"), st.just("[]"), st.just('"x"'),
                    st.just('{"id": 1e999}'), st.just('{"id": NaN}'), st.just('{"id": "\\ud800"}'))
_form_text = st.text(max_size=40)  # form values are UTF-8 on the wire; surrogates travel inside the JSON body
_fields = st.fixed_dictionaries({}, optional={
    "order_group_id": st.one_of(_form_text, st.sampled_from(["1", "²", "9" * 40]), st.text(min_size=51, max_size=200)),
    "recipient": st.one_of(st.sampled_from(["seller", "buyer", ""]), _form_text),
    "event_type": st.one_of(st.sampled_from(["order_created", "fraud_response_received", "event_updated", ""]),
                            _form_text, st.text(min_size=101, max_size=300)),
    "body": _bodies,
})


# Order Integration bodies beyond the schema: JSON bombs, wrong types, surrogates, 64-bit overflow ----

_oi_value = st.one_of(_edge, _scalar, _json_value, st.sampled_from(["88213", "1", "0", "-1", "1e3", "NaN", " 7 ", "G-1"]))


@st.composite
def _oi_body(draw: Any) -> str:
    shape = draw(st.sampled_from(["object", "object", "object", "bomb", "not_json", "other_json"]))
    if shape == "bomb":
        return draw(_bombs)
    if shape == "not_json":
        return draw(st.text(max_size=200))
    if shape == "other_json":
        return json.dumps(draw(_json_value))
    fields = ["remote_id", "quantity", "global_id", "price", "ticket_group_id", "order_id", "remoteId", "globalId",
              "orderId", "tevo_order_id"]
    body = {name: draw(_oi_value) for name in draw(st.lists(st.sampled_from(fields), unique=True, max_size=6))}
    return json.dumps(body)


def _fuzz_order_integration_json(client: httpx.Client, examples: int, seed: int, snapshot: Snapshot,
                                 judge: Any) -> None:
    paths = st.sampled_from([path.replace("{global_id}", "G-1") for path, _ in OI_OPERATIONS])

    @_settings(examples * 3, seed)
    @given(path=paths, body=_oi_body())
    def fuzz(path: str, body: str) -> None:
        before = snapshot.take()
        response = _post(client, path, body.encode("utf-8", "surrogatepass"),
                         {"X-Api-Key": API_KEY, "Content-Type": "application/json"})
        judge("hypothesis order integration json", response.status_code, before, f"{path} {body[:300]!r}")

    fuzz()


# Webhooks: forms as TEvo sends them, and everything a hostile sender might ---------------------------


@st.composite
def _webhook_request(draw: Any) -> tuple[bytes, str]:
    """(raw body, content type): well-formed forms, broken encodings, huge fields, odd content types."""
    shape = draw(st.sampled_from(["form", "form", "form", "extra", "repeated", "bytes", "huge", "latin1"]))
    form = draw(_fields)
    if shape == "extra":
        form.update(draw(st.dictionaries(_form_text, _form_text, max_size=60)))
    if shape == "repeated":
        pairs = list(form.items()) + list(form.items())[:1]
        raw = urlencode(pairs).encode()
    elif shape == "bytes":
        raw = draw(st.binary(max_size=2000))
    elif shape == "huge":
        size = draw(st.sampled_from([MAX_BODY - 200, MAX_BODY + 1, 4 * MAX_BODY]))
        raw = urlencode({**form, "body": '{"id": 1, "pad": "' + "x" * size + '"}'}).encode()
    elif shape == "latin1":
        raw = "&".join(f"{quote(k, encoding='latin-1', errors='replace')}="
                       f"{quote(str(v), encoding='latin-1', errors='replace')}" for k, v in form.items()).encode()
        raw += b"&body=%E9%FF%FE"  # percent-encoded bytes that are not UTF-8
    else:
        raw = urlencode(form).encode()
    content_type = draw(st.sampled_from(["application/x-www-form-urlencoded",
                                         "application/x-www-form-urlencoded; charset=utf-8", "", "application/json",
                                         "multipart/form-data; boundary=x", "text/plain"]))
    return raw, content_type


def _fuzz_webhooks(client: httpx.Client, examples: int, seed: int, snapshot: Snapshot, judge: Any) -> None:
    url = f"/webhooks/tevo/{WEBHOOK_TOKEN}"

    @_settings(examples * 4, seed)
    @given(request=_webhook_request())
    def fuzz(request: tuple[bytes, str]) -> None:
        raw, content_type = request
        headers = {"Content-Type": content_type} if content_type else {}
        before = snapshot.take()
        response = _post(client, url, raw, headers)
        judge("hypothesis webhook form", response.status_code, before, f"{content_type} {raw[:300]!r}")

    fuzz()
