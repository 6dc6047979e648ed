"""What every benchmark shares: processes (daemon, bare app, load generator), percentiles, figures."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tevo_bridge.config import settings_env

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-order-integration-key-0123456789"
WEBHOOK_TOKEN = "bench-webhook-token-0123456789abcdefghij"


# Figures -------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One line of the table: a measured value, the baseline measured beside it, and the target."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None  # value / baseline unless given
    target: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline:
            self.ratio = self.value / self.baseline


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


# The machine ---------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return {"cores": str(os.cpu_count()), "cpu": cpu, "memory": mem,
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "os": f"{platform.system()} {platform.release()}"}


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (VmRSS, in MiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fsync_rate(directory: Path, seconds: float = 1.0) -> float:
    """4 KiB write + fsync per iteration: the disk's physical ceiling for durable commits."""
    path = directory / ".fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            count += 1
        return count / (time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()


# Processes -----------------------------------------------------------------------------------


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This worktree's code first (the venv's editable install points elsewhere), no inherited config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEVO_BRIDGE_")}
    paths = [str(ROOT), str(ROOT / "plugins" / "sqlite_pos")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


@dataclass
class Process:
    popen: subprocess.Popen
    base_url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss_mb(self) -> float:
        return rss_mb(self.pid)


def _wait_live(process: subprocess.Popen, url: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-3000:]}")


@contextmanager
def spawned(args: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> Iterator[Process]:
    """Start a server process, wait for its /livez, stop it with SIGTERM (SIGKILL after 15 s)."""
    handle = log.open("ab")
    popen = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=child_env(env), stdout=handle,
                             stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_live(popen, f"{base}/livez", log)
        yield Process(popen, base, log)
    finally:
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=5)
        handle.close()


@contextmanager
def daemon_process(settings: Any, log: Path) -> Iterator[Process]:
    """``tevo-bridge run`` in its own process, configured by environment only."""
    with spawned(["-m", "tevo_bridge.cli", "run"], settings.server.port, log, settings_env(settings)) as proc:
        yield proc


@contextmanager
def bare_process(port: int, log: Path, http: str = "h11") -> Iterator[Process]:
    """The bare FastAPI app (same routes' shape, answers at once) under the same uvicorn settings, on h11 unless
    ``http`` says httptools (benchmarks/bare_app.py)."""
    with spawned(["-m", "benchmarks.bare_app", "--port", str(port), "--http", http], port, log) as proc:
        yield proc


@contextmanager
def durable_bare_process(port: int, directory: Path, log: Path) -> Iterator[Process]:
    """The bare app plus only the durable commits a hold and an ack must make (benchmarks/durable_bare.py)."""
    with spawned(["-m", "benchmarks.durable_bare", "--port", str(port), "--dir", str(directory)], port, log) as proc:
        yield proc


def load(kind: str, base_url: str, *, concurrency: int, count: int, max_seconds: float, prefix: str,
         remote_ids: list[str] | None = None, warmup: int = 0) -> dict[str, Any]:
    """Run the load generator in its own process; returns its JSON summary (latencies in ms)."""
    args = [sys.executable, "-m", "benchmarks.loadgen", kind, base_url, "--concurrency", str(concurrency),
            "--count", str(count), "--max-seconds", str(max_seconds), "--prefix", prefix,
            "--warmup", str(warmup), "--api-key", API_KEY, "--webhook-token", WEBHOOK_TOKEN]
    if remote_ids:
        args += ["--remote-ids", ",".join(remote_ids)]
    done = subprocess.run(args, cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=max_seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


@contextmanager
def blackhole() -> Iterator[str]:
    """A TEvo that accepts connections and never answers: the worker parks on it, using no CPU.

    The listening socket is never ``accept()``ed; the kernel completes the handshake
    into the backlog, the request sits in the buffer, and the read times out.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
