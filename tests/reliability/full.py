"""The full reliability run: every part at full size, its figures printed and written to RELIABILITY.md.

    python -m tests.reliability.full                 # all parts, writes RELIABILITY.md
    python -m tests.reliability.full crash faults    # some parts, prints only
    python -m tests.reliability.full --merge crash   # some parts, their figures merged into RELIABILITY.md

Run from the repository root (so this checkout's ``tevo_bridge`` is the one imported).
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.reliability.crash import run_crash
from tests.reliability.disk import run_disk_full, run_page_limit, run_read_only
from tests.reliability.flood import run_flood
from tests.reliability.hostile import run_hostile
from tests.reliability.pos_faults import run_pos_faults
from tests.reliability.race import run_races
from tests.reliability.replicas import run_replicas
from tests.reliability.secrets_scan import run_secrets
from tests.reliability.security import run_security
from tests.reliability.security_report import security_section, security_summary
from tests.reliability.stateful import run_stateful
from tests.reliability.tevo_faults import run_tevo_faults

CRASH_ORDERS, CRASH_KILLS = 300, 20
FAULT_ORDERS = 300
FUZZ_EXAMPLES = 400
FLOOD_REQUESTS = 5000
RACE_ROUNDS = 50  # per order of arrival
STATEFUL_EXAMPLES, STATEFUL_STEPS = 30, 20  # in-process daemon, restarted gracefully
STATEFUL_KILL_EXAMPLES = 10  # daemon process, also SIGKILLed and killed at crash points
REPLICA_ORDERS, REPLICA_KILLS = 300, 10  # two replicas on PostgreSQL, one database restart
SKYBOX_ORDERS, SKYBOX_KILLS = 150, 10  # parts 1 and 2 again with the SkyBox plugin over its simulator
SLOW_CONNECTIONS, SLOW_HOLDS = 400, 10  # per attack kind, daemon under RLIMIT_NOFILE 256; holds per phase
HOSTILE_EXAMPLES = 10_000  # generated hostile requests per store backend


def _crash(tmp: Path) -> dict[str, Any]:
    run = run_crash(tmp, orders=CRASH_ORDERS, kills=CRASH_KILLS)
    return {**run.figures(), "ok": run.settled and run.tally.clean and run.tally.as_expected == run.tally.orders}


def _faults(tmp: Path) -> dict[str, Any]:
    run = run_tevo_faults(tmp, orders=FAULT_ORDERS, settle_timeout=600)
    return {**run.figures(), "ok": run.settled and run.tally.clean and run.tally.as_expected == run.tally.orders}


def _pos(tmp: Path) -> dict[str, Any]:
    run = run_pos_faults(tmp)
    ok = (not run.wrong and run.alive and run.settled and run.readyz_status == 503
          and run.hold_server_ms <= 1100 and run.active_holds == 0)
    return {**run.figures(), "ok": ok}


def _hostile(tmp: Path) -> dict[str, Any]:
    run = run_hostile(tmp, examples=FUZZ_EXAMPLES, seed=1)
    return {**run.figures(), "ok": not run.server_errors and not run.stored_on_refusal and run.alive}


def _flood(tmp: Path) -> dict[str, Any]:
    run = run_flood(tmp, requests=FLOOD_REQUESTS, concurrency=64, time_limit=120)
    return {**run.figures(), "ok": run.dropped == 0 and run.lost == 0 and run.alive}


def _secrets(tmp: Path) -> dict[str, Any]:
    run = run_secrets(tmp, demo_orders=65)
    return {**run.figures(), "ok": not run.hits}


def _disk(tmp: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    ok = True
    for name, runner in (("read_only", run_read_only), ("page_limit", run_page_limit), ("tmpfs_full", run_disk_full)):
        (tmp / name).mkdir()
        result = runner(tmp / name)
        figures[name] = None if result is None else result.figures()
        ok = ok and (result is None or result.clean)
    return {**figures, "ok": ok}


def _race(tmp: Path) -> dict[str, Any]:
    run = run_races(tmp, rounds=RACE_ROUNDS)
    return {**run.figures(), "ok": not run.wrong and run.races == RACE_ROUNDS * 3}


def _stateful(tmp: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    failures: list[str] = []
    for name, kind, examples in (("in_process", "inprocess", STATEFUL_EXAMPLES),
                                 ("with_sigkill", "process", STATEFUL_KILL_EXAMPLES)):
        try:
            figures[name] = run_stateful(examples, STATEFUL_STEPS, kind=kind, derandomize=False).figures()
        except Exception as exc:  # the failing example's steps are in the message: report, go on
            figures[name] = None
            # A failure Hypothesis could not repeat (FlakyFailure) carries the first one's message inside.
            inner = "".join(f"\n  first failure: {sub}" for sub in getattr(exc, "exceptions", ()))
            failures.append(f"{name}: {exc}{inner}")
    return {**figures, "failures": failures, "ok": not failures}


def _replicas(tmp: Path) -> dict[str, Any]:
    run = run_replicas(tmp, orders=REPLICA_ORDERS, kills=REPLICA_KILLS)
    return {**run.figures(), "ok": run.ok}


def _skybox(tmp: Path) -> dict[str, Any]:
    (tmp / "crash").mkdir()
    (tmp / "faults").mkdir()
    crash = run_crash(tmp / "crash", orders=SKYBOX_ORDERS, kills=SKYBOX_KILLS, pos="skybox")
    faults = run_tevo_faults(tmp / "faults", orders=SKYBOX_ORDERS, settle_timeout=600, pos="skybox")
    ok = all(run.settled and run.tally.clean and run.tally.as_expected == run.tally.orders for run in (crash, faults))
    return {"crash": crash.figures(), "faults": faults.figures(), "ok": ok}


def _security(tmp: Path) -> dict[str, Any]:
    run = run_security(tmp, connections=SLOW_CONNECTIONS, per_phase=SLOW_HOLDS, hostile_examples=HOSTILE_EXAMPLES)
    return {**run.figures(), "ok": run.ok}


PARTS: dict[str, tuple[str, Callable[[Path], dict[str, Any]]]] = {
    "crash": ("1. Crash: SIGKILL at random moments", _crash),
    "faults": ("2. TEvo faults", _faults),
    "pos": ("3. POS faults", _pos),
    "hostile": ("4. Hostile input", _hostile),
    "flood": ("5. Auth and limits: flood", _flood),
    "secrets": ("6. Secrets", _secrets),
    "disk": ("7. Disk and database", _disk),
    "race": ("8. Stock arbiter: one buyer for the last tickets", _race),
    "stateful": ("9. Stateful: the pipeline as a state machine, failures at every step", _stateful),
    "replicas": ("10. Two replicas on PostgreSQL: SIGKILLs and a database restart", _replicas),
    "skybox": ("11. Crash and TEvo faults with the SkyBox plugin as the POS", _skybox),
    "security": ("12. Security: slow clients, login floods, hostile input, PDF work", _security),
}


RESULTS = Path("tests/reliability/results.json")  # the figures RELIABILITY.md is rendered from


def main(argv: list[str]) -> int:
    """No argument: every part, then RELIABILITY.md. ``--merge PART ...``: those parts, their figures replacing the
    same parts' in results.json, then RELIABILITY.md again (the other parts' figures as they were)."""
    merge = argv[:1] == ["--merge"]
    chosen = argv[1:] if merge else (argv or list(PARTS))
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    for key in chosen:
        title, runner = PARTS[key]
        print(f"== {title}", flush=True)
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"reliability-{key}-") as folder:
            results[key] = {**runner(Path(folder)), "wall_seconds": round(time.monotonic() - began, 1),
                            "measured": f"{datetime.now(UTC):%Y-%m-%d}"}
        print(json.dumps(results[key], indent=2, default=str), flush=True)
    total = round(time.monotonic() - started, 1)
    ok = all(r["ok"] for r in results.values())
    print(f"== {'ALL OK' if ok else 'FAILURES'} in {total} s")
    if merge:
        stored = json.loads(RESULTS.read_text())
        results, total = {**stored["parts"], **results}, stored["seconds"] + total - sum(
            stored["parts"][key]["wall_seconds"] for key in chosen if key in stored["parts"])
    if merge or not argv:
        RESULTS.write_text(json.dumps({"seconds": total, "parts": results}, indent=1, default=str) + "\n")
        Path("RELIABILITY.md").write_text(render(results, total))
        print(f"wrote RELIABILITY.md and {RESULTS}")
    return 0 if ok else 1


def _measured(results: dict[str, dict[str, Any]]) -> str:
    """When each part's figures were taken, e.g. "2026-11-29 (parts 1-11), 2026-12-04 (part 12)"."""
    numbers = {key: index + 1 for index, key in enumerate(PARTS)}
    days: dict[str, list[int]] = {}
    for key, result in results.items():
        days.setdefault(str(result.get("measured", "undated")), []).append(numbers.get(key, 0))
    def parts(found: list[int]) -> str:
        found = sorted(found)
        if len(found) > 1 and found == list(range(found[0], found[-1] + 1)):
            return f"parts {found[0]}-{found[-1]}"
        return ("part " if len(found) == 1 else "parts ") + ", ".join(map(str, found))
    return ", ".join(f"{day} ({parts(found)})" for day, found in sorted(days.items()))


def render(results: dict[str, dict[str, Any]], total: float) -> str:
    crash, faults, pos, hostile = results["crash"], results["faults"], results["pos"], results["hostile"]
    flood, secrets, disk, race = results["flood"], results["secrets"], results["disk"], results["race"]
    stateful, replicas = results["stateful"], results["replicas"]
    machines = [m for m in (stateful["in_process"], stateful["with_sigkill"]) if m]
    lost = sum(r["lost"] for r in (crash, faults, replicas)) + flood["lost"]
    doubled = sum(r["double_accepts"] + r["double_rejects"] + r["double_invoices"] + r["duplicate_pages"]
                  for r in (crash, faults, replicas))
    lines = [
        "# Reliability",
        "",
        "Figures from full-size runs of the reliability suite (`python -m tests.reliability.full`; "
        "`--merge PART` re-runs some parts and keeps the others' figures), measured "
        f"{_measured(results)}, on {platform.machine()} with Python {platform.python_version()}, "
        f"{total:.0f} s in all. The CI variant (`python -m pytest tests/reliability`) runs the same code at "
        "smaller sizes; `RELIABILITY_FULL=1` runs these sizes under pytest.",
        "",
        "| | figure |",
        "|---|---|",
        f"| kills survived (SIGKILL, then restart) | **{crash['kills']}** over {crash['orders']} orders "
        f"(+{crash['oi_without_order']} Order Integration holds without an order) |",
        f"| TEvo faults injected | **{faults['faults_injected']}** over {faults['orders']} orders |",
        f"| hostile cases fuzzed | **{hostile['cases']}**, 0 answered 5xx, 0 stored after a refusal |",
        f"| flood | {flood['requests']} requests, {flood['per_second']}/s, {flood['acknowledged']} acknowledged |",
        f"| orders lost | **{lost}** |",
        f"| doubled (accepts, rejects, invoices, e-ticket pages) | **{doubled}** |",
        f"| secrets found in logs and error bodies | **{secrets['hits']}** |",
        f"| races for the last tickets (checkout hold vs webhook order) | **{race['races']}**, "
        f"{race['double_promises_or_none']} with other than exactly one winner |",
        f"| state machine (failures interleaved at every step) | **{sum(m['examples'] for m in machines)}** "
        f"examples, {sum(m['steps'] for m in machines)} steps, {sum(m['orders'] for m in machines)} orders, "
        f"{sum(m['injected_total'] for m in machines)} causes broken, {len(stateful['failures'])} failing |",
        f"| two replicas on PostgreSQL behind Caddy | **{replicas['kills']}** kills and {replicas['db_restarts']} "
        f"database restart over {replicas['orders']} orders; {replicas['crossing_consistent']} of "
        f"{replicas['crossing_holds']} holds answered alike across replicas |",
        *security_summary(results.get("security")),
        "",
        "## 1. Crash",
        f"{crash['orders']} mixed orders (every scenario, webhooks and Order Integration) while the daemon "
        f"process was killed with SIGKILL {crash['kills']} times at random moments and restarted each time; "
        "the start-up poll closes the gap a dead daemon leaves.",
        "",
        _table({k: crash[k] for k in ("orders", "oi_without_order", "as_expected", "states", "lost", "double_accepts",
                                      "double_rejects", "double_invoices", "missing_invoices", "duplicate_pages",
                                      "pages_delivered", "active_holds", "seconds")}),
        "",
        "## 2. TEvo faults",
        "The sandbox answered 30% of signed calls 500/503, let 10% act and then hang past the read timeout, "
        "answered 3% with 429 and `Retry-After`, and sent webhooks twice (25%), newest first, or never (20%); "
        "a poll every second found what the webhooks lost.",
        "",
        _table({**{f"injected: {k}": v for k, v in faults["faults"].items()},
                **{k: faults[k] for k in ("polls", "orders", "as_expected", "states", "lost", "double_accepts",
                                          "double_rejects", "double_invoices", "duplicate_pages", "pages_delivered",
                                          "active_holds", "seconds")}}),
        "",
        "## 3. POS faults",
        "One daemon over a POS whose listings raise, hang for 4 s (budgets 0.8-1 s), are slow (0.3 s) or are "
        "sound; 16 holds at once, then webhook orders on each.",
        "",
        _table({k: pos[k] for k in ("hold_budget", "slowest_hold_server_ms", "slowest_hold_client_s", "hold_status",
                                    "order_states", "readyz_status", "alive", "active_holds")}),
        "",
        "## 4. Hostile input",
        "Schemathesis (positive and negative) on the three Order Integration operations of the daemon's OpenAPI "
        "document, Hypothesis on Order Integration JSON (bombs, wrong types, 64-bit overflow, lone surrogates) "
        "and on webhook forms (bad encodings, huge and missing fields, JSON bombs, wrong types, odd content "
        "types). Store and POS row counts compared before and after every refused request.",
        "",
        _table({"cases": hostile["cases"], **{f"cases: {k}": v for k, v in hostile["by_kind"].items()},
                "statuses": hostile["statuses"], "server_errors": hostile["server_errors"],
                "stored_on_refusal": hostile["stored_on_refusal"]}),
        "",
        "## 5. Auth and limits",
        "401 for a missing or wrong key (8 variants × 3 operations), keys compared with `hmac.compare_digest` "
        "against every key; 404 for a wrong webhook token; 413 over the body limit, declared or chunked "
        "(pytest). The flood: webhooks and holds from 64 threads on loopback.",
        "",
        _table({k: flood[k] for k in ("requests", "statuses", "dropped", "acknowledged", "lost", "per_second",
                                      "median_ms", "p99_ms", "alive")}),
        "",
        "## 6. Secrets",
        "`tevo-bridge demo` with known credentials (daemon log and console output), then a run that provokes "
        "every error answer with TEvo failing underneath (log and response bodies).",
        "",
        _table({k: secrets[k] for k in ("secrets", "log_lines_scanned", "error_bodies_scanned", "hits")}),
        "",
        "## 7. Disk and database",
        "Each request judged alone: a 2xx must be stored, a 503 must have stored nothing, and the same calls "
        "succeed once the space or the permission is back.",
        "",
        _table({name: disk[name] for name in ("read_only", "page_limit", "tmpfs_full")}),
        "",
        "## 8. Stock arbiter",
        "Listings of exactly 2 seats, each wanted whole by an Order Integration hold and by an order announced "
        "by webhook, with every TEvo call slowed by 0.2 s: the hold first, the hold once the order is "
        "`accepting`, or both at the same instant. A race is won by exactly one buyer: the hold is `held` and the "
        "order rejected \"Tickets No Longer Available\" without an accept call, or the order is accepted and "
        "delivered and the hold refused 409.",
        "",
        _table({k: race[k] for k in ("races", "by_arrival", "winners", "double_promises_or_none")}),
        "",
        "## 9. Stateful",
        "Hypothesis drives the real pipeline (sandbox, daemon, SQLite POS) through random sequences of rules: "
        "orders of eleven scenarios by webhook, poll and Order Integration; TEvo errors, timeouts after acting, "
        "rate limits, lost and doubled webhooks; a POS that raises or hangs past its budget; ticket PDFs deleted "
        "or corrupted; local pickup settings emptied (a restart); tickets arriving late; TEvo canceling; "
        "restarts (and, for the daemon process, SIGKILL and crash points); operator retries (with `redeliver` "
        "for done orders), duplicate webhooks and polls. After every step: every unsettled order has a queued "
        "or running job. After every run, once the operator fixed every cause and the daemon drained: one "
        "accept or one reject at most, one POS invoice at most, each item delivered once, no reservation held "
        "for a rejected or canceled order, a done order's invoiced; then every needs_review order, retried, "
        "ends as its scenario expects and no reservation is left held. `injected` counts the causes broken, "
        "`faults_fired` what TEvo and the POS then did, call by call; `outcomes` are the states after the "
        "drain, `after_retry` after the operator's retries.",
        "",
        *(f"### {name}\n\n" + _table(stateful[name]) + "\n" for name in ("in_process", "with_sigkill")
          if stateful[name]),
        *(f"**Failed:** {failure.splitlines()[0]}" for failure in stateful["failures"]),
        "",
        "## 10. Two replicas on PostgreSQL",
        "Two `tevo-bridge run` processes with one config and one PostgreSQL store (a server of the run's own), "
        "behind `deploy/replicas/Caddyfile` run for real: every webhook and Order Integration call of the mixed "
        "orders goes through the proxy, round robin. A replica picked at random was SIGKILLed and restarted "
        f"{replicas['kills']} times, and halfway through, with one replica down, PostgreSQL itself was restarted. "
        "First, holds were asked of one replica, replayed through the other (the same bytes back), released "
        "through the other and released again through the first (`not_held`, as one daemon answers). "
        "Take-over: each kill but the one with the database restart waited (up to 3 s) for the victim to run a "
        "job, froze it (SIGSTOP), read which running jobs its sessions held, killed it and kept it down until "
        "the other replica had claimed each of them; `takeover_*` are the seconds from the freeze to each claim "
        "(the claim's own `lease_until` less the lease), with the job lease a new seller gets.",
        "",
        _table({k: replicas[k] for k in ("replicas", "kills", "db_restarts", "crossing_holds", "crossing_consistent",
                                         "orders", "oi_without_order", "as_expected", "states", "lost",
                                         "double_accepts", "double_rejects", "double_invoices", "missing_invoices",
                                         "duplicate_pages", "pages_delivered", "active_holds", "seconds",
                                         "lease_seconds", "takeover_kills", "takeover_jobs", "takeover_median_s",
                                         "takeover_max_s", "takeover_missed") if k in replicas}),
        "",
        *_skybox_section(results.get("skybox")),
        *security_section(results.get("security")),
    ]
    return "\n".join(lines)


def _skybox_section(skybox: dict[str, Any] | None) -> list[str]:
    if skybox is None:
        return []
    keys = ("orders", "as_expected", "states", "lost", "double_accepts", "double_rejects", "double_invoices",
            "missing_invoices", "duplicate_pages", "active_holds", "seconds")
    return ["## 11. SkyBox as the POS",
            "Parts 1 and 2 again with the SkyBox plugin (plugins/skybox_pos) over its simulator instead of the SQLite "
            "sample: the daemon SIGKILLed and restarted at random moments, then TEvo failing as in part 2. The "
            "simulator outlives the kills, as SkyBox would.", "",
            "### Crash", "", _table({"kills": skybox["crash"]["kills"], **{k: skybox["crash"][k] for k in keys}}), "",
            "### TEvo faults", "", _table({k: skybox["faults"][k] for k in keys}), ""]


def _table(values: dict[str, Any]) -> str:
    rows = ["| | |", "|---|---|"]
    for key, value in values.items():
        text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
        rows.append(f"| {key} | {text.replace('|', '/')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
