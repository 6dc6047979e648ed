"""The plugin author guide (docs/plugins.md) and the hook specs cannot drift apart.

Modelled on datasette's test_plugin_hooks_are_documented: every hook has a section whose heading
is its signature, and the guide's budget for it is the one the host applies.
"""

from __future__ import annotations

import csv
import importlib
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tevo_bridge.pos import hookspecs
from tevo_bridge.pos.hookspecs import ALL_HOOKS, DEFAULT_BUDGETS
from tevo_bridge.pos.inventory import CSV_COLUMNS
from tevo_bridge.testing.contract import REMOTE_POS_TESTS, PosContract

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
HOOKS = ALL_HOOKS
HEADING_RE = re.compile(r"^### (\w+)\(([^)]*)\)$", re.M)


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sections(guide: str) -> dict[str, tuple[str, str]]:
    """Hook name -> (argument list of its heading, body of its section)."""
    found = {}
    matches = list(HEADING_RE.finditer(guide))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else guide.index("\n## ", match.end())
        found[match.group(1)] = (match.group(2), guide[match.end() : end])
    return found


def test_the_hook_list_is_every_spec_in_hookspecs() -> None:
    specs = {name for name, fn in vars(hookspecs).items() if name.startswith("pos_") and inspect.isfunction(fn)}
    assert specs == set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_guide(hook: str, sections: dict[str, tuple[str, str]]) -> None:
    assert hook in sections, f"docs/plugins.md has no '### {hook}(...)' section"


@pytest.mark.parametrize("hook", HOOKS)
def test_each_section_heading_is_the_hooks_signature(hook: str, sections: dict[str, tuple[str, str]]) -> None:
    arguments = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert sections[hook][0] == arguments


@pytest.mark.parametrize("hook", HOOKS)
def test_each_section_states_the_budget_the_host_applies(hook: str, sections: dict[str, tuple[str, str]]) -> None:
    assert f"**Budget:** {DEFAULT_BUDGETS[hook]:g} s" in sections[hook][1]


def test_the_guide_documents_no_hook_that_does_not_exist(sections: dict[str, tuple[str, str]]) -> None:
    assert set(sections) <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_each_spec_docstring_states_arguments_return_idempotency_and_budget(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    stated = [
        part
        for part in ("Arguments:", "Returns:", "Idempotency:", f"Budget: {DEFAULT_BUDGETS[hook]:g} s")
        if part in doc
    ]
    assert stated == ["Arguments:", "Returns:", "Idempotency:", f"Budget: {DEFAULT_BUDGETS[hook]:g} s"]


def _guide_plugin_class(guide: str, monkeypatch: pytest.MonkeyPatch) -> type:
    """The class of the guide's "A minimal plugin from scratch", executed as written."""
    section = guide[guide.index("## A minimal plugin from scratch") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    module = ModuleType("guide_minimal_plugin")
    # pydantic resolves the postponed annotations of Config through sys.modules, as for any module.
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, f"{GUIDE}:minimal plugin", "exec"), module.__dict__)  # noqa: S102  (our own docs' code)
    return module.MemoryPos


class TestTheGuidesMinimalPluginPassesTheContract(PosContract):
    @pytest.fixture
    def pos_plugin(self, tmp_path, pos_inventory, guide, monkeypatch):
        plugin_class = _guide_plugin_class(guide, monkeypatch)
        path = tmp_path / "inventory.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(row.to_csv() for row in pos_inventory)
        return plugin_class(plugin_class.Config(inventory=path))


def test_the_guide_states_the_true_number_of_contract_tests(guide: str) -> None:
    """The guide counts the suite for authors checking that every test ran; the count must be the code's."""
    count = sum(name.startswith("test_") for name in dir(PosContract))
    assert f"contract suite: {count} tests" in guide and f"lists the {count} tests" in guide
    remote = len(REMOTE_POS_TESTS)  # a local POS has no slow or lost-answer fixture: those are skipped
    assert f"{count + 1 - remote} passed, {remote} skipped: the contract suite and the sample CSV check" in guide


# -- the helper modules' reference ----------------------------------------------------------------

#: The modules a plugin imports besides the hook values; each public name is in the guide's reference.
HELPER_MODULES = ("tevo_bridge.pos.errors", "tevo_bridge.pos.rules", "tevo_bridge.pos.inventory",
                  "tevo_bridge.pos.deadline")
VALUE_MODULES = ("tevo_bridge.pos.types", "tevo_bridge.testing.contract")


def _annotation(annotation: object) -> str:
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))


def reference_entry(obj: object) -> str:
    """How the guide writes a public name: ``name(arguments) -> result``, or the bare name for a constant or an
    exception that takes only a message. The guide's entries are these strings, so a changed signature fails."""
    name = obj.__name__  # type: ignore[attr-defined]
    own_init = inspect.isclass(obj) and obj.__init__ not in (object.__init__, BaseException.__init__,
                                                            Exception.__init__, ValueError.__init__)
    if not (inspect.isfunction(obj) or own_init):
        return name
    signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)  # type: ignore[misc]
    parts = []
    for p in signature.parameters.values():
        if p.name == "self":
            continue
        text = {p.VAR_POSITIONAL: f"*{p.name}", p.VAR_KEYWORD: f"**{p.name}"}.get(p.kind, p.name)
        if p.annotation is not p.empty:
            text += f": {_annotation(p.annotation)}"
        if p.default is not p.empty:
            text += f" = {p.default!r}"
        parts.append(text)
    returns = signature.return_annotation
    result = "" if inspect.isclass(obj) or returns is signature.empty else f" -> {_annotation(returns)}"
    return f"{name}({', '.join(parts)}){result}"


def _public(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    return [(name, getattr(module, name)) for name in module.__all__]


@pytest.mark.parametrize("module", HELPER_MODULES)
def test_every_public_function_and_error_of_the_helper_modules_is_in_the_reference_with_its_signature(
    module: str, guide: str
) -> None:
    reference = guide[guide.index("## Helper modules: reference"):]
    reference = reference[: reference.index("\n## ")]
    missing = [
        entry
        for name, obj in _public(module)
        if f"`{(entry := reference_entry(obj) if callable(obj) else name)}`" not in reference
    ]
    assert not missing, f"docs/plugins.md, 'Helper modules: reference', lacks (or has another signature for): {missing}"


@pytest.mark.parametrize("module", VALUE_MODULES)
def test_every_public_name_of_the_values_and_the_kit_is_in_the_guide(module: str, guide: str) -> None:
    missing = [name for name, _ in _public(module) if f"`{name}" not in guide]
    assert not missing, f"docs/plugins.md never names {missing} of {module}"
