"""How long a SIGKILLed replica's running jobs wait before the other replica claims them (part 10).

The victim is frozen (SIGSTOP) and then killed; while it is frozen, the jobs the store shows running
are read with the backend holding each one's advisory lock (``PostgresStore.claim_job``), and those held
by a session of the victim's process (matched by its TCP ports) are its orphans. Times count from the
freeze. The victim stays down until each orphan has been claimed again (or has
finished elsewhere), so the figure is the other replica's take-over, not the victim's own restart.
The claim time is the database's: a claim sets ``lease_until = claimed_at + lease_seconds``.
"""

from __future__ import annotations

import os
import statistics
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tevo_bridge.store.postgres import LOCK_SPACE

#: How often the jobs rows are read while waiting for a take-over.
POLL = 0.05

_RUNNING = (
    "SELECT j.id, j.lease_until, l.pid FROM jobs j LEFT JOIN pg_locks l ON l.locktype = 'advisory' "
    "AND l.classid::bigint = %s AND l.objid::bigint = j.id %% 2147483647 AND l.objsubid = 2 AND l.granted "
    "WHERE j.state = 'running'"
)


@dataclass
class Orphan:
    job_id: int
    lease_until: float


@dataclass
class Takeovers:
    """Seconds from each kill to the claim of each job the killed replica was running."""

    lease_seconds: float
    seconds: list[float] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)  # jobs not claimed again within the bound
    kills_with_jobs: int = 0

    def figures(self) -> dict[str, Any]:
        if not self.seconds:
            return {"takeover_jobs": 0, "takeover_missed": len(self.missed)}
        return {"takeover_jobs": len(self.seconds), "takeover_kills": self.kills_with_jobs,
                "takeover_median_s": round(statistics.median(self.seconds), 2),
                "takeover_max_s": round(max(self.seconds), 2), "takeover_missed": len(self.missed)}

    @property
    def bound(self) -> float:
        """What the test allows: the whole lease (the victim renewed it just before dying) and 10 s of slack."""
        return self.lease_seconds + 10.0


def running_jobs(url: str) -> list[tuple[int, float, int | None]]:
    """(job id, lease_until, the backend pid holding its advisory lock) of every running job."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        return [(int(i), float(lease), pid) for i, lease, pid in conn.execute(_RUNNING, (LOCK_SPACE,)).fetchall()]


def orphans_of(url: str, pid: int, running: list[tuple[int, float, int | None]]) -> list[Orphan]:
    """The jobs of ``running`` whose advisory lock a session of process ``pid`` holds (read before it is killed):
    its sessions are the server's connections from the process's local TCP ports."""
    ports = _local_ports(pid)
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        backends = {row[0] for row in conn.execute("SELECT pid, client_port FROM pg_stat_activity").fetchall()
                    if row[1] in ports}
    return [Orphan(job_id, lease) for job_id, lease, holder in running if holder in backends]


def await_jobs(url: str, pid: int, timeout: float = 3.0) -> None:
    """Wait (up to ``timeout``) until process ``pid`` runs a job, so that a kill lands mid-order, the case a
    take-over is for; a kill at a moment it runs none leaves nothing to measure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not orphans_of(url, pid, running_jobs(url)):
        time.sleep(POLL)


def _local_ports(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[len("socket:["):-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def measure(url: str, killed_at: float, orphans: list[Orphan], takeovers: Takeovers) -> None:
    """Wait until every orphan is claimed again (or no longer running); record each one's seconds since the kill."""
    if not orphans:
        return
    takeovers.kills_with_jobs += 1
    waiting = {o.job_id: o for o in orphans}
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        while waiting and time.time() - killed_at < takeovers.bound:
            rows = conn.execute("SELECT id, state, lease_until FROM jobs WHERE id = ANY(%s)",
                                (list(waiting),)).fetchall()
            for job_id, state, lease_until in rows:
                orphan = waiting[job_id]
                if state == "running" and lease_until is not None and float(lease_until) != orphan.lease_until:
                    takeovers.seconds.append(float(lease_until) - takeovers.lease_seconds - killed_at)
                    del waiting[job_id]
                elif state != "running":  # claimed and finished between two reads: at most now
                    takeovers.seconds.append(time.time() - killed_at)
                    del waiting[job_id]
            time.sleep(POLL)
    takeovers.missed.extend(waiting)
