"""CI: the released files work on their own.

Builds the sdist and wheel of the core and of each plugin, checks them with ``twine check --strict``, installs the
five wheels (not editable; their dependencies from the registry as usual) into a fresh virtualenv and runs the CLI
from a folder outside the repository, so nothing can be imported from the source tree: the demo with each POS
plugin, then ``dashboard serve`` over the demo's store with every page and asset fetched.  A template, static file
or data file missing from the wheels fails here, where an editable install would still find it in the checkout.

Run by .ci/run between the two Quick start blocks, with the Quick start's venv and its ``release`` extra (``build``,
``twine``): ``.venv/bin/python .ci/wheels.py``.  Exits non-zero on the first failure, saying which step failed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECTS = [".", "plugins/sqlite_pos", "plugins/csv_pos", "plugins/skybox_pos", "plugins/http_pos"]
PLUGINS = {"sqlite_pos", "csv_pos", "skybox_pos", "http_pos"}
# Every page template and the static files the pages load: the demo itself never renders the dashboard.
DASHBOARD_PATHS = ["/dashboard/", "/dashboard/review", "/dashboard/orders", "/dashboard/holds", "/dashboard/system",
                   "/dashboard/login", "/dashboard/static/htmx.min.js", "/dashboard/static/dashboard.css",
                   "/dashboard/static/countdown.js"]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, capture: bool = False) -> str:
    printable = " ".join(str(a) for a in args)
    print(f"== wheels: {printable}  (in {cwd})", flush=True)
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, text=True, check=False,
                          stdout=subprocess.PIPE if capture else None)
    if done.returncode != 0:
        sys.exit(f"wheels: FAILED (exit {done.returncode}): {printable}")
    return done.stdout or ""


def export(dest: Path) -> Path:
    """The files git knows (committed or new, not ignored), as a clean checkout has them.

    Not the working folder itself: setuptools reads the *.egg-info/SOURCES.txt and build/ an editable install left
    there, which would put a file in the sdist and wheel that package-data no longer names.
    """
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO, capture=True)
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the work tree is left out, as a commit would
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def build(source: Path, dist: Path) -> list[Path]:
    """sdist then a wheel built from that sdist (build's default), so a file left out of the sdist fails too."""
    for project in PROJECTS:
        run(sys.executable, "-m", "build", "--quiet", "--outdir", dist, source / project, cwd=source)
    files = sorted(dist.iterdir())
    run(sys.executable, "-m", "twine", "check", "--strict", *files, cwd=REPO)
    wheels = [f for f in files if f.suffix == ".whl"]
    if len(wheels) != len(PROJECTS):
        sys.exit(f"wheels: FAILED: expected {len(PROJECTS)} wheels, found {[w.name for w in wheels]}")
    return wheels


def clean_env(venv_dir: Path) -> dict[str, str]:
    """The fresh venv first on PATH, and nothing that would lead Python back into the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv_dir)
    return env


def core_version(wheels: list[Path]) -> str:
    core = next(w for w in wheels if w.name.startswith("tevo_bridge-"))
    return core.name.split("-")[1]


def check_installed(venv_dir: Path, outside: Path, env: dict[str, str], version: str) -> None:
    bin_dir = venv_dir / "bin"
    where = run(bin_dir / "python", "-c", "import tevo_bridge; print(tevo_bridge.__file__)", cwd=outside, env=env,
                capture=True).strip()
    if not Path(where).resolve().is_relative_to(venv_dir.resolve()):
        sys.exit(f"wheels: FAILED: tevo_bridge was imported from {where}, not from the fresh venv {venv_dir}")
    shown = run(bin_dir / "tevo-bridge", "--version", cwd=outside, env=env, capture=True)
    print(shown, end="")
    if not shown.startswith(f"tevo-bridge {version} "):
        sys.exit(f"wheels: FAILED: `tevo-bridge --version` says {shown.strip()!r}, the wheel is {version}")
    run(bin_dir / "tevo-bridge", "plugins", cwd=outside, env=env)
    listed = json.loads(run(bin_dir / "tevo-bridge", "plugins", "--json", cwd=outside, env=env, capture=True))
    ok = {p["name"] for p in listed if p.get("status") == "ok"}
    if not PLUGINS <= ok:
        sys.exit(f"wheels: FAILED: plugins not ok from the wheels: {sorted(PLUGINS - ok)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fetch(url: str) -> tuple[int, bytes]:
    # No proxy from the environment: this is loopback only.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def check_dashboard(venv_dir: Path, demo_folder: Path, env: dict[str, str]) -> None:
    """`dashboard serve` over the demo's store: each page renders (templates) and its assets load (static)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(venv_dir / "bin" / "tevo-bridge"), "dashboard", "serve", "--config",
               str(demo_folder / "dashboard.toml"), "--port", str(port)]
    print(f"== wheels: {' '.join(command)}", flush=True)
    server = subprocess.Popen(command, cwd=demo_folder, env=env)
    try:
        wait_until_up(base, server)
        # One order's page, and the error page (an order the store does not have).
        expected = {path: 200 for path in DASHBOARD_PATHS} | {f"/dashboard/orders/{some_order(demo_folder)}": 200,
                                                              "/dashboard/orders/999999999": 404}
        for path, wanted in expected.items():
            status, body = fetch(base + path)
            print(f"   GET {path}: {status}, {len(body)} bytes", flush=True)
            if status != wanted or not body:
                sys.exit(f"wheels: FAILED: the dashboard from the wheels answered {status} to GET {path}, not {wanted}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def some_order(demo_folder: Path) -> int:
    with sqlite3.connect(demo_folder / "state.sqlite3") as db:
        row = db.execute("SELECT id FROM orders ORDER BY id LIMIT 1").fetchone()
    if row is None:
        sys.exit(f"wheels: FAILED: the demo left no order in {demo_folder / 'state.sqlite3'}")
    return int(row[0])


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30  # a liveness bound: it starts in about a second
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"wheels: FAILED: dashboard serve exited {server.returncode} before answering")
        try:
            fetch(base + "/dashboard/")
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("wheels: FAILED: dashboard serve did not answer within 30 s")


def check_http_pos_api(venv_dir: Path, outside: Path, env: dict[str, str]) -> None:
    """http_pos's OpenAPI document is package data: its reference server serves it, brokers read it."""
    code = ("from tevo_bridge_http_pos.reference import openapi_text; "
            "assert openapi_text().startswith('openapi: 3.1'), 'not the OpenAPI document'")
    run(venv_dir / "bin" / "python", "-c", code, cwd=outside, env=env)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tevo-bridge-wheels-") as tmp:
        root = Path(tmp)
        dist, venv_dir, outside = root / "dist", root / "venv", root / "outside"
        dist.mkdir()
        outside.mkdir()
        wheels = build(export(root / "src"), dist)
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
        env = clean_env(venv_dir)
        run(venv_dir / "bin" / "python", "-m", "pip", "install", "-q", *wheels, cwd=outside, env=env)
        check_installed(venv_dir, outside, env, core_version(wheels))
        run(venv_dir / "bin" / "tevo-bridge", "demo", cwd=outside, env=env)
        kept = outside / "skybox-demo"
        run(venv_dir / "bin" / "tevo-bridge", "demo", "--pos", "skybox", "--orders", "20", "--keep", kept,
            cwd=outside, env=env)
        check_dashboard(venv_dir, kept, env)
        check_http_pos_api(venv_dir, outside, env)
    print(f"wheels: OK ({len(PROJECTS)} sdists and {len(PROJECTS)} wheels built and checked; from the installed wheels "
          "the demo passed with the SQLite and the SkyBox plugin, the dashboard served every page and asset, and "
          "http_pos found its OpenAPI document)")


if __name__ == "__main__":
    main()
