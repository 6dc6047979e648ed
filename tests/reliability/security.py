"""Part 12: issue 20's defences ("safe on the open internet") measured at full size, for RELIABILITY.md.

Each defence has its own pytest test at CI size; this module runs the same code larger and returns figures:

- slow clients (``slow_clients.py``): six attack kinds, 400 raw connections each, on a daemon process under
  RLIMIT_NOFILE 256, with holds sent before, during and after;
- login flood (``login_flood.py``): 48 wrong dashboard logins at once, from one address spoofing
  ``X-Forwarded-For`` and from 48 loopback addresses, with holds sent meanwhile;
- hostile input (``tests/e2e/test_hostile_property.py``): generated hostile requests through both store
  backends, run by pytest in a subprocess (the PostgreSQL server and the per-backend parametrisation are
  pytest fixtures), its figures written to the file named by ``HOSTILE_FIGURES``;
- PDF work (``tests/integration/test_pdf_hold_latency.py``): hold latency idle and while a 2,000-page e-ticket
  is fulfilled, with the PDF work on worker threads (now) and on the event loop (before);
- secrets: the daemon logs these runs wrote, searched for the secrets they ran with.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from tests.integration.test_pdf_hold_latency import PDF_CALLERS, hold_latencies_while_fulfilling, on_the_loop
from tests.reliability.login_flood import LoginFloodRun, run_login_flood
from tests.reliability.secrets_scan import SecretsRun, scan
from tests.reliability.slow_clients import ATTACKS, SlowClientsRun, run_slow_clients
from tevo_bridge.loopback.stack import API_KEY, WEBHOOK_TOKEN
from tevo_bridge.sandbox.credentials import make_credentials

HOSTILE_TEST = "tests/e2e/test_hostile_property.py"
SLOW_CLIENTS_SANDBOX_SEED, STACK_SANDBOX_SEED = 5, 7  # low_limit_daemon's and stack()'s sandbox seeds


# -- slow clients ----------------------------------------------------------------------------------------------


def slow_clients(tmp: Path, count: int, per_phase: int) -> SlowClientsRun:
    """Every attack kind at ``count`` connections; the daemon's log stays in ``tmp`` for the secrets scan."""
    return run_slow_clients(tmp, count=count, per_phase=per_phase, kinds=ATTACKS)


def slow_clients_figures(run: SlowClientsRun) -> dict[str, Any]:
    """The run's figures, each attack with how many of its holds (all three phases) were answered 200 or 409."""
    figures = run.figures()
    for attack, shown in zip(run.attacks, figures["attacks"], strict=True):
        statuses = [s for phase in (attack.before, attack.during, attack.after) for s in phase.statuses]
        shown["holds_answered"] = [sum(s in (200, 409) for s in statuses), len(statuses)]
    return figures


def slow_clients_ok(run: SlowClientsRun) -> bool:
    """What tests/reliability/test_slow_clients.py asserts, minus the RSS slack (printed, judged by the reader)."""
    return run.alive and not run.out_of_descriptors and all(
        a.before.answered and a.during.answered and a.after.answered and a.all_closed and a.fds_peak < 256
        for a in run.attacks)


# -- login flood -----------------------------------------------------------------------------------------------


def login_flood_ok(runs: list[LoginFloodRun]) -> bool:
    """Only 401/429/503 to the guesses, and every hold sent meanwhile answered 200."""
    return all(set(run.counts) <= {401, 429, 503} and run.holds and all(s == 200 for s, _ in run.holds)
               for run in runs)


# -- hostile input ---------------------------------------------------------------------------------------------


@dataclass
class HostileRun:
    examples: int
    returncode: int
    seconds: float
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)
    tail: str = ""  # the end of pytest's output, when it failed

    @property
    def same_answers(self) -> bool:
        """Both backends saw the same generated requests (derandomized): their status sequences must match."""
        digests = {figures["answers_digest"] for figures in self.backends.values()}
        return len(self.backends) == 2 and len(digests) == 1

    def figures(self) -> dict[str, Any]:
        return {"examples_per_backend": self.examples, "pytest_exit": self.returncode, "seconds": self.seconds,
                "same_answers_on_both_backends": self.same_answers, "backends": self.backends,
                **({"pytest_tail": self.tail} if self.returncode else {})}


def hostile(tmp: Path, examples: int) -> HostileRun:
    """The property test in a subprocess at ``examples`` requests per backend; its figures read back from a file."""
    out = tmp / "hostile-figures.json"
    env = {**os.environ, "HOSTILE_EXAMPLES": str(examples), "HOSTILE_FIGURES": str(out)}
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", HOSTILE_TEST, "-q", "-s", "-p", "no:cacheprovider",
                           f"--basetemp={tmp / 'pytest'}"], env=env, capture_output=True, text=True, check=False)
    run = HostileRun(examples, done.returncode, round(time.monotonic() - began, 1))
    run.backends = json.loads(out.read_text()) if out.exists() else {}
    if done.returncode:
        run.tail = "\n".join(done.stdout.splitlines()[-5:])
    return run


def hostile_ok(run: HostileRun) -> bool:
    return run.returncode == 0 and run.same_answers


# -- PDF work --------------------------------------------------------------------------------------------------


def latency_figures(seconds: list[float]) -> dict[str, Any]:
    """n, p50, p95, max in ms (p95 as the test prints it: the value at 95% of the sorted list)."""
    ms = sorted(x * 1000 for x in seconds)
    if not ms:
        return {"holds": 0}
    return {"holds": len(ms), "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1), "max_ms": round(ms[-1], 1)}


@contextmanager
def pdf_work_on_the_loop() -> Iterator[None]:
    """The daemon as it was before the fix: PDF pages read and merged inline on the event loop."""
    with ExitStack() as patches:
        for name in PDF_CALLERS:
            patches.enter_context(mock.patch(f"tevo_bridge.fulfillment.{name}.off_loop", on_the_loop))
        yield


def pdf_work(tmp: Path, pdf: bytes, before: bool) -> dict[str, Any]:
    """Hold latency idle and while the 2,000-page order is fulfilled; ``before``: with the PDF work on the loop."""
    with pdf_work_on_the_loop() if before else ExitStack():
        state, idle, during, statuses = hold_latencies_while_fulfilling(tmp, pdf)
    return {"order_state": state, "idle": latency_figures(idle), "while_fulfilling": latency_figures(during),
            "statuses": sorted(set(statuses))}


def pdf_ok(after: dict[str, Any]) -> bool:
    return after["order_state"] == "done" and after["statuses"] == [200]


# -- secrets ---------------------------------------------------------------------------------------------------


def scan_logs(logs: list[tuple[Path, int]]) -> SecretsRun:
    """Every line of each daemon log, searched for the intake secrets and its sandbox's TEvo credentials."""
    result = SecretsRun()
    seen: set[str] = set()
    for log, seed in logs:
        creds = make_credentials(None, None, seed)
        secrets = [API_KEY, WEBHOOK_TOKEN, creds.token, creds.secret]
        seen.update(secrets)
        lines = log.read_text(errors="replace").splitlines()
        result.log_lines += len(lines)
        scan(result, str(log.name), lines, secrets)
    result.secrets = len(seen)
    return result


# -- the part --------------------------------------------------------------------------------------------------


@dataclass
class SecurityRun:
    slow_clients: SlowClientsRun
    login_flood: list[LoginFloodRun]
    hostile: HostileRun
    pdf_after: dict[str, Any]
    pdf_before: dict[str, Any]
    secrets: SecretsRun
    sizes: dict[str, Any]

    @property
    def ok(self) -> bool:
        return (slow_clients_ok(self.slow_clients) and login_flood_ok(self.login_flood) and hostile_ok(self.hostile)
                and pdf_ok(self.pdf_after) and not self.secrets.hits)

    def figures(self) -> dict[str, Any]:
        return {"sizes": self.sizes, "slow_clients": slow_clients_figures(self.slow_clients),
                "login_flood": [run.figures() for run in self.login_flood], "hostile": self.hostile.figures(),
                "pdf": {"worker_threads": self.pdf_after, "event_loop_before": self.pdf_before},
                "secrets": {**self.secrets.figures(), "logs": self.sizes["logs_scanned"]}}


def run_security(tmp: Path, connections: int = 400, per_phase: int = 10, hostile_examples: int = 10_000
                 ) -> SecurityRun:
    """The four measurements one after another (each on its own daemon), then the secrets scan of their logs."""
    from tests.fulfillment.test_pdf_off_loop import make_big_pdf

    folders = {name: tmp / name for name in ("slow", "login", "hostile", "pdf_after", "pdf_before")}
    for folder in folders.values():
        folder.mkdir()
    print("-- slow clients", flush=True)
    slow = slow_clients(folders["slow"], connections, per_phase)
    print("-- login flood", flush=True)
    login = run_login_flood(folders["login"])
    print("-- hostile input", flush=True)
    hostile_run = hostile(folders["hostile"], hostile_examples)
    print("-- PDF work", flush=True)
    pdf = make_big_pdf()
    after = pdf_work(folders["pdf_after"], pdf, before=False)
    before = pdf_work(folders["pdf_before"], pdf, before=True)
    logs = [(folders["slow"] / "daemon.log", SLOW_CLIENTS_SANDBOX_SEED),
            *((log, STACK_SANDBOX_SEED) for name in ("pdf_after", "pdf_before", "hostile")
              for log in sorted(folders[name].rglob("daemon.log")))]
    sizes = {"connections_per_attack": connections, "holds_per_phase": per_phase,
             "hostile_examples_per_backend": hostile_examples, "logs_scanned": len(logs)}
    return SecurityRun(slow, login, hostile_run, after, before, scan_logs(logs), sizes)
