"""``TEVO_BRIDGE_*`` environment variables, held to the same standard as the config file.

pydantic-settings silently ignores a variable whose name matches no setting (a misspelt
``TEVO_BRIDGE_PIPLINE__AUTO_REJECT`` would leave auto-reject on), raises a bare ``SettingsError``
traceback for a list that is not JSON, and its validation errors do not say which variable a
value came from.  This module looks at the variables before and after pydantic does, so every
problem names the variable, what is wrong and the fix, and never echoes a value.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["ENV_PREFIX", "NON_SETTING_VARIABLES", "environment_problems", "json_example", "setting_field",
           "source_variable", "variable_name"]

ENV_PREFIX = "TEVO_BRIDGE_"
NESTED = "__"
#: Variables of ours that are not settings: the config file's path, the test suite's crash points.
NON_SETTING_VARIABLES = frozenset({"TEVO_BRIDGE_CONFIG", "TEVO_BRIDGE_CRASHPOINT"})

_UNKNOWN = object()


def variable_name(loc: Sequence[str | int]) -> str:
    """The variable that sets the setting at ``loc`` (``("tevo", "token")`` → ``TEVO_BRIDGE_TEVO__TOKEN``)."""
    return ENV_PREFIX + NESTED.join(str(part).upper() for part in loc)


def _ours(environ: Mapping[str, str]) -> dict[str, str]:
    # pydantic-settings matches names case-insensitively; so do we.
    return {name.upper(): value for name, value in environ.items() if name.upper().startswith(ENV_PREFIX)}


def source_variable(loc: Sequence[str | int], environ: Mapping[str, str]) -> str | None:
    """The set variable a value at ``loc`` came from (the most specific one), or None when it came from the file.

    Variables override the file, so a set variable covering ``loc`` is where its value came from.
    """
    ours = _ours(environ)
    for size in range(len(loc), 0, -1):
        name = variable_name(loc[:size])
        if name in ours:
            return name
    return None


def _submodel(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _dict_values(annotation: Any) -> Any:
    """The value type of a ``dict[str, X]`` setting (any key may follow its name), else ``_UNKNOWN``."""
    if typing.get_origin(annotation) is dict:
        args = typing.get_args(annotation)
        return args[1] if len(args) == 2 else Any
    return _UNKNOWN


def _needs_json(annotation: Any) -> bool:
    """Whether pydantic-settings decodes the variable as JSON (lists, tables, sections)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_needs_json(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return origin in (list, dict, set, tuple) or _submodel(annotation) is not None


def _lookup(model: type[BaseModel], parts: Sequence[str]) -> Any:
    """The annotation of the setting a variable's name parts lead to, or ``_UNKNOWN``."""
    annotation: Any = model
    for part in parts:
        sub = _submodel(annotation)
        if sub is not None:
            if part not in sub.model_fields:
                return _UNKNOWN
            annotation = sub.model_fields[part].annotation
            continue
        annotation = _dict_values(annotation)
        if annotation is _UNKNOWN:
            return _UNKNOWN
    return annotation


def setting_field(model: type[BaseModel], loc: Sequence[str | int]) -> FieldInfo | None:
    """The field a setting's location names (``("tevo", "token")``), or None (a table key, a list item)."""
    owner: Any = model
    field = None
    for part in loc:
        sub = _submodel(owner)
        if sub is None or part not in sub.model_fields:
            return None
        field = sub.model_fields[str(part)]
        owner = field.annotation
    return field


def _example(model: type[BaseModel], parts: Sequence[str]) -> Any:
    field = setting_field(model, parts)
    return field.examples[0] if field is not None and field.examples else None


def _all_names(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        sub = _submodel(field.annotation)
        names.extend(_all_names(sub, (*prefix, name)) if sub else [variable_name((*prefix, name))])
    return names


def _closest(name: str, model: type[BaseModel]) -> str:
    known = {n.removeprefix(ENV_PREFIX): n for n in _all_names(model)}
    close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), known, n=1, cutoff=0.6)
    if close:
        return f"Fix: did you mean {known[close[0]]}?"
    return f"Fix: unset it; settings are named {ENV_PREFIX}<SECTION>{NESTED}<KEY>, as in config.example.toml."


def json_example(name: str, example: Any) -> str:
    """How to set a JSON-valued variable, in shell syntax (examples never hold a real secret)."""
    return f"{name}='{json.dumps(example, separators=(',', ':'))}'"


def environment_problems(model: type[BaseModel], environ: Mapping[str, str]) -> list[str]:
    """What is wrong with the ``TEVO_BRIDGE_*`` variables, one line each: unknown names, values that are not JSON.

    Values are never quoted back: a variable may hold a secret.
    """
    problems = []
    for name, value in sorted(_ours(environ).items()):
        if name in NON_SETTING_VARIABLES:
            continue
        parts = [p.lower() for p in name.removeprefix(ENV_PREFIX).split(NESTED)]
        annotation = _lookup(model, parts) if all(parts) else _UNKNOWN
        if annotation is _UNKNOWN:
            problems.append(f"{name}: not a tevo-bridge setting, so it would be ignored. {_closest(name, model)}")
            continue
        if _needs_json(annotation):
            try:
                json.loads(value)
            except ValueError:
                example = _example(model, parts)
                fix = f" Example: {json_example(name, example)}" if example is not None else ""
                problems.append(f"{name}: not valid JSON; this setting is a list or table, written as JSON "
                                f"(its value is not shown: it may be a secret).{fix}")
    return problems
