"""A throwaway PostgreSQL server for the tests, from the machine's PostgreSQL binaries.

One server per test session (``initdb`` takes seconds; a database takes milliseconds): each test
gets a fresh database of its own, so tests stay isolated.  The server listens on a unix socket in
its own temporary folder and on a free loopback port, with ``trust`` authentication for the local
user only.  ``initdb`` refuses to run as root, so under root the server runs as the ``postgres``
system user (Debian's package creates it).  Where no binaries exist the tests skip with the reason
(``tests/tools.py``); ``.ci/run`` installs the Debian package and makes them required.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.tools import unavailable
from tevo_bridge.serve import free_port

#: The name ``CI_REQUIRE_TOOLS`` uses for the PostgreSQL server binaries.
TOOL = "postgresql"


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb``/``pg_ctl``: on PATH, else Debian's /usr/lib/postgresql/<ver>/bin (newest)."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def need_postgresql() -> Path:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        unavailable(TOOL, "PostgreSQL server binaries (initdb, pg_ctl) are not installed: the PostgreSQL store "
                          "tests need a throwaway server (Debian: apt-get install postgresql)")
    assert bin_dir is not None
    return bin_dir


class PgServer:
    """A private PostgreSQL cluster: ``start``, ``stop``, ``restart`` (for the outage tests), ``new_database``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="tevo-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
            self.user = "postgres"
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run([*self._as_user, str(self.bin_dir / tool), *args], capture_output=True, text=True,
                                check=False, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self, durable: bool = False) -> None:
        """``durable=False`` (tests): fsync off, since a test server need not survive power loss, and a restart
        (pg_ctl stop -m fast) still keeps every committed row. Benchmarks start it durable, as in production."""
        fsync = "on" if durable else "off"
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync={fsync} "
                   f"-c synchronous_commit=on -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def new_database(self, template: str | None = None) -> str:
        """A fresh, empty database (or a copy of ``template``); its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def destroy(self) -> None:
        with suppress(Exception):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass(frozen=True)
class Backend:
    """A fresh store location on one backend: ``open()`` gives a store on it; call it twice for two replicas."""

    name: str  # "sqlite" | "postgresql"
    location: str  # a file path or a database URL

    def open(self) -> Any:
        if self.name == "sqlite":
            from tevo_bridge.store import SqliteStore

            return SqliteStore(self.location)
        from tevo_bridge.store.postgres import PostgresStore

        return PostgresStore(self.location)


def kill_job_sessions(store: Any) -> None:
    """The sessions holding a store's running jobs die (a cut network, a killed replica), as PostgreSQL sees it.

    SQLite has no sessions: its worker's lease is all there is, so nothing needs doing there.
    """
    running = getattr(store, "_running", None)
    if running is None:
        return
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as admin:
        for conn in list(running.values()):
            # With a timeout, PostgreSQL waits for the session to be gone (its advisory locks released) before
            # answering: without it the next claim could still find the lock held.
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (conn.info.backend_pid,))


def refuse_job_inserts(store: Any) -> None:
    """From now on the server refuses every new job row (a trigger raises): a write's last part fails on the
    server after its first parts ran, which is where a one-statement write must still leave nothing."""
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as admin:
        admin.execute("CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS "
                      "$$BEGIN RAISE EXCEPTION 'jobs refused by the test'; END$$")
        admin.execute("CREATE TRIGGER refuse_job BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION refuse_job()")
