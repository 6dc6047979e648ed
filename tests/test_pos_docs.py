"""The plugin author guide (docs/plugins.md) and the hook specs cannot drift apart.

Modelled on datasette's test_plugin_hooks_are_documented: every hook has a section whose heading
is its signature, and the guide's budget for it is the one the host applies.
"""

from __future__ import annotations

import csv
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tevo_bridge.pos import hookspecs
from tevo_bridge.pos.hookspecs import ALL_HOOKS, DEFAULT_BUDGETS
from tevo_bridge.pos.inventory import CSV_COLUMNS
from tevo_bridge.testing.contract import PosContract

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
    assert f"{count + 1} passed: the contract suite and the sample CSV check" in guide  # plugin new's project
