"""What every ``tevo-bridge`` command shares: the --config and --log-level options, the settings, the store.

A low module of its own so that the per-feature command modules (``dashboard/cli.py``, ...) take them from
here rather than from ``cli.py``, which imports them all: each command then opens the store the same way,
SQLite or PostgreSQL.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from tevo_bridge.config import ConfigError, Settings, find_config, load_settings
from tevo_bridge.log import configure_logging
from tevo_bridge.store.files import StoreFacts
from tevo_bridge.store.sqlite import SqliteStore
from tevo_bridge.store.vocabulary import StoreError
from tevo_bridge.term import echo

if TYPE_CHECKING:  # annotations only: the PostgreSQL store (and psycopg) load only when a config names one
    from tevo_bridge.store.postgres import PostgresStore

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file (default: $TEVO_BRIDGE_CONFIG, "
                 "else ./config.toml, else /etc/tevo-bridge/config.toml).", show_default=False),
]


def fail(message: str, code: int = 2) -> NoReturn:
    echo(message, err=True)
    raise typer.Exit(code)


class LogLevel(str, Enum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


LogLevelOption = Annotated[
    LogLevel | None,
    typer.Option("--log-level", help="Overrides [log] level.", show_default=False, case_sensitive=False),
]


def settings_or_exit(config: Path | None, log_level: LogLevel | None = None, *, announce: bool = True
                     ) -> Settings:
    """The settings, with logging set up from them: every command's log lines (a TEvo call made by
    ``check --online``, a plugin loading) are then UTC ISO-stamped and redacted like the daemon's.

    Which file was read is said on stderr (a ``--json`` stdout stays one document). Without ``announce`` the
    caller says it (``run``: as a log line once it starts, since its stderr is its log), except on a refusal here.
    """
    source = find_config(config)
    if announce:
        echo(source.describe(), err=True)
    try:
        settings = load_settings(source.path)
    except ConfigError as exc:
        fail(f"error: {exc}" if announce else f"{source.describe()}\nerror: {exc}")
    if log_level is not None:
        settings.log.level = log_level.value
    configure_logging(settings.log.level, settings.log.format, settings.secrets())
    return settings


def store_or_exit(settings: Settings) -> StoreFacts:
    """The configured store's facts, or a clear exit: missing, not a store, or written by a newer tevo-bridge."""
    from tevo_bridge.store import inspect_store

    path = settings.store.path
    if not path.exists():
        fail(f"error: no database at {path}: has the daemon run with this config? "
             "Fix: set [store] path to the daemon's database.")
    try:
        return inspect_store(path)
    except StoreError as exc:
        fail(f"error: [store] path: {exc}")


def open_store_or_exit(settings: Settings) -> SqliteStore | PostgresStore:
    """The configured store for a command (never the daemon's lock), or a clear exit naming the key to fix."""
    from tevo_bridge.store.backends import open_store

    if settings.store.postgres_url is not None:
        try:
            return open_store(settings.store)
        except StoreError as exc:
            fail(f"error: [store] url: {exc}")
    store_or_exit(settings)
    try:
        return SqliteStore(settings.store.path)
    except StoreError as exc:
        fail(f"error: [store] path: {exc}")
