"""A real daemon with its admin listener (where the dashboard lives) over a real SQLite POS, and its store to seed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.integration.conftest import API_KEY, SECRET, TOKEN, WEBHOOK_TOKEN, make_settings, pos_db  # noqa: F401
from tevo_bridge.dashboard.auth import hash_password
from tevo_bridge.serve import RunningDaemon, running_daemon

PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD)
SESSION_SECRET = "dashboard-session-secret-0123456789abcdef"
PLUGIN_SECRET = "pos-api-token-should-never-show-0123"
#: Every secret the daemon is configured with: none may appear in any page.
SECRETS = [API_KEY, WEBHOOK_TOKEN, TOKEN, SECRET, PASSWORD, PASSWORD_HASH, SESSION_SECRET, PLUGIN_SECRET,
           PASSWORD_HASH.split("$")[-1]]


@contextmanager
def dashboard_daemon(tmp_path: Path, pos_db: Path, server: dict[str, Any] | None = None,  # noqa: F811
                     **dashboard: Any) -> Iterator[RunningDaemon]:
    settings = make_settings(tmp_path, pos_db, server={"admin_port": 0, **(server or {})},
                             dashboard={"session_secret": SESSION_SECRET, "page_size": 10, **dashboard},
                             plugins={"skybox": {"api_token": PLUGIN_SECRET}})  # an inactive plugin's table
    with running_daemon(settings) as daemon:
        yield daemon


def seed_order(daemon: RunningDaemon, order_id: int, state: str = "done", source: str = "webhook",
               **fields: Any) -> None:
    store = daemon.runtime.store.sync
    store.ensure_order(order_id, source)
    snapshot = fields.pop("snapshot", None)
    if snapshot is not None:
        fields["snapshot"] = json.dumps(snapshot)
    store.update_order(order_id, state=state, reason="seeded by the test", **fields)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def client(daemon: RunningDaemon, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=daemon.admin_url or "", timeout=10, **kwargs)
