"""Path types for settings: a relative path means "next to the config file", whatever the working directory.

A seller writes ``database = "pos.sqlite3"`` beside their ``config.toml``; the daemon may be started
from ``/`` (systemd), ``$HOME`` (cron) or anywhere else, and must read the same file every time.
So every path setting, in the core and in plugins, is one of the types below: a relative value is
resolved against the *base folder* while the settings are validated, and only then checked.

The base folder is taken from the validation context (``model_validate(data, context={"config_dir":
folder})``), else from ``config_dir(folder)`` around the validation (how ``load_settings`` and the
plugin host validate), else the value is left as given (relative to the working directory, as
pydantic's own ``FilePath`` behaves in a plugin's unit tests).  ``~`` is expanded.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

__all__ = ["CONTEXT_KEY", "ConfigDirectoryPath", "ConfigFilePath", "ConfigPath", "config_dir", "resolve_path"]

#: The validation-context key holding the base folder.
CONTEXT_KEY = "config_dir"

_base: contextvars.ContextVar[Path | None] = contextvars.ContextVar("tevo_bridge_config_dir", default=None)


@contextmanager
def config_dir(folder: Path | None) -> Iterator[None]:
    """Resolve relative path settings validated inside this block against ``folder`` (None: leave them)."""
    token = _base.set(folder)
    try:
        yield
    finally:
        _base.reset(token)


def resolve_path(value: Path, base: Path | None) -> Path:
    """``value`` with ``~`` expanded and, when relative, placed under ``base`` (if there is one)."""
    value = value.expanduser()
    if value.is_absolute() or base is None:
        return value
    return base / value


def _base_for(info: ValidationInfo) -> Path | None:
    context: Any = info.context
    if isinstance(context, dict) and context.get(CONTEXT_KEY) is not None:
        return Path(context[CONTEXT_KEY])
    return _base.get()


def _resolve(value: Path, info: ValidationInfo) -> Path:
    return resolve_path(value, _base_for(info))


def _is_file(value: Path) -> Path:
    # The resolved path is in the message: "pos.sqlite3 not found" would not say where it was looked for.
    if not value.is_file():
        raise ValueError(f"{value} is not a file" if value.exists() else f"no file at {value}")
    return value


def _is_dir(value: Path) -> Path:
    if not value.is_dir():
        raise ValueError(f"{value} is not a folder" if value.exists() else f"no folder at {value}")
    return value


#: Any path (it may not exist yet: a database the daemon creates, a folder it fills).
ConfigPath = Annotated[Path, AfterValidator(_resolve)]
#: An existing file, checked after resolving (pydantic's ``FilePath`` semantics).
ConfigFilePath = Annotated[Path, AfterValidator(_resolve), AfterValidator(_is_file)]
#: An existing folder, checked after resolving (pydantic's ``DirectoryPath`` semantics).
ConfigDirectoryPath = Annotated[Path, AfterValidator(_resolve), AfterValidator(_is_dir)]
