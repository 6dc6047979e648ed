"""``tevo-bridge plugin new NAME``: a new POS plugin package that passes the contract suite as generated.

A plugin author's first hour goes on packaging (the entry point, the ``Config`` model, the test
fixture of the contract suite) rather than on their POS. The generated package has all of that
and an in-memory implementation of every required hook, so ``pytest`` is green from the start
and each hook can then be moved onto the real POS while the suite keeps it honest.

The files are templates shipped as package data (``tevo_bridge/pos/plugin_template/*.tmpl``),
filled in with ``string.Template``: no templating dependency, and ``$`` never occurs in the
generated Python.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from tevo_bridge import __version__
from tevo_bridge.term import echo

__all__ = ["PluginName", "generate_plugin", "plugin_app"]

_NAME_RE = re.compile(r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*")

#: Template file (under plugin_template/) -> path in the generated project; ``{module}`` is filled in.
_FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "inventory.csv.tmpl": "inventory.csv",
    "plugin.py.tmpl": "{module}/__init__.py",
    "tests/test_contract.py.tmpl": "tests/test_contract.py",
}


class PluginNameError(ValueError):
    """A NAME ``plugin new`` cannot use; the message says what a valid one looks like."""


@dataclass(frozen=True)
class PluginName:
    """The names one plugin goes by: the entry point sellers write in ``[pos] plugin``, the Python
    package, the distribution and the class."""

    entry_point: str  # acme_pos
    module: str  # acme_pos
    dist_name: str  # acme-pos
    class_name: str  # AcmePos

    @classmethod
    def parse(cls, name: str) -> PluginName:
        """Accept ``acme_pos`` or ``acme-pos``; refuse anything that is not a clean, importable package name."""
        if not _NAME_RE.fullmatch(name):
            raise PluginNameError(
                f"plugin name {name!r} is not valid: use lowercase letters, digits and single '_' or '-' "
                "between words, starting with a letter (for example acme_pos)"
            )
        module = name.replace("-", "_")
        if keyword.iskeyword(module):
            raise PluginNameError(f"plugin name {name!r} is a Python keyword: choose another (for example {name}_pos)")
        if module in sys.stdlib_module_names or importlib.util.find_spec(module) is not None:
            # The generated package would shadow it (or be shadowed): imports would pick the wrong one.
            raise PluginNameError(f"plugin name {name!r} clashes with the installed module {module!r}: choose another")
        class_name = "".join(part.capitalize() for part in module.split("_"))
        return cls(entry_point=module, module=module, dist_name=module.replace("_", "-"), class_name=class_name)


def generate_plugin(name: str, dest: Path) -> Path:
    """Write the plugin project ``dest/NAME`` and return its folder.

    Refuses (``FileExistsError``) to write into a folder that already exists, so a second run can
    never overwrite an author's work.
    """
    names = PluginName.parse(name)
    project = dest / name
    if project.exists():
        raise FileExistsError(f"{project} already exists: not overwriting it (choose another --dir or NAME)")
    values = {
        "entry_point": names.entry_point,
        "module": names.module,
        "dist_name": names.dist_name,
        "class_name": names.class_name,
        "tevo_bridge_version": __version__,
    }
    templates = resources.files("tevo_bridge.pos") / "plugin_template"
    rendered = {
        target.format(module=names.module): Template((templates / source).read_text(encoding="utf-8")).substitute(values)
        for source, target in _FILES.items()
    }
    for relative, text in rendered.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return project


plugin_app = typer.Typer(help="Tools for POS plugin authors.", no_args_is_help=True)


@plugin_app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="The plugin's name, for example acme_pos (what sellers put in [pos] plugin).")],
    dest: Annotated[Path, typer.Option("--dir", help="Folder to create the project in.")] = Path("."),
) -> None:
    """Create an installable POS plugin package that passes the contract suite as generated."""
    try:
        project = generate_plugin(name, dest)
    except (PluginNameError, FileExistsError) as exc:
        echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    names = PluginName.parse(name)
    echo(
        f"created {project}\n\n"
        f"  cd {project}\n"
        '  pip install -e . pytest       # or: pip install -e ".[test]"\n'
        "  pytest -q                     # the contract suite, green as generated\n"
        f"  tevo-bridge plugins           # lists {names.entry_point}\n\n"
        f'Then in config.toml: [pos] plugin = "{names.entry_point}", and [plugins.{names.entry_point}] inventory = "inventory.csv".'
    )
