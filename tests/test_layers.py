"""One-way layers: every import of tevo_bridge and the plugins goes to its own layer or below, and none goes round.

``LAYERS`` is the rule, lowest first; docs/architecture.md ("Layers") prints it, and
``test_the_architecture_page_shows_the_layers`` keeps the two the same. The graph is read from the source
with ``ast``: every import counts, at module level, inside functions and under ``if TYPE_CHECKING:``, because
each one is a dependency a reader has to follow, and a lazy import only hides a circle from Python, not from
the next person who moves the code.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Where each importable distribution's package lives: (import name, folder).
PACKAGES = (
    ("tevo_bridge", "tevo_bridge"),
    ("tevo_bridge_sqlite_pos", "plugins/sqlite_pos/tevo_bridge_sqlite_pos"),
    ("tevo_bridge_csv_pos", "plugins/csv_pos/tevo_bridge_csv_pos"),
    ("tevo_bridge_skybox_pos", "plugins/skybox_pos/tevo_bridge_skybox_pos"),
    ("tevo_bridge_http_pos", "plugins/http_pos/tevo_bridge_http_pos"),
)

#: The layers, lowest first: (name, what it holds, its members). A member is a file or a folder (ending in
#: "/", everything under it); a file named here wins over its folder. A module may import only from its own
#: layer or a lower one.
LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("foundation", "no project imports but each other: paths, clock, terminal and log, the listener's guards",
     ("tevo_bridge/__init__.py", "tevo_bridge/clock.py", "tevo_bridge/paths.py", "tevo_bridge/term.py",
      "tevo_bridge/log.py", "tevo_bridge/crashpoints.py", "tevo_bridge/private_files.py",
      "tevo_bridge/config_env.py", "tevo_bridge/dburl.py", "tevo_bridge/sdnotify.py", "tevo_bridge/memory.py", "tevo_bridge/eventloop.py",
      "tevo_bridge/httpparser.py", "tevo_bridge/cpus.py",
      "tevo_bridge/service.py", "tevo_bridge/asgi_guard.py", "tevo_bridge/connections.py",
      "tevo_bridge/proxies.py", "tevo_bridge/admin_guard.py", "tevo_bridge/health.py",
      "tevo_bridge/cli_views.py", "tevo_bridge/notify_urls.py")),
    ("config", "the settings and what is derived from them alone",
     ("tevo_bridge/config.py", "tevo_bridge/registration.py", "tevo_bridge/listeners.py")),
    ("store", "durable state, the metrics read from it, the commands' shared helpers",
     ("tevo_bridge/store/", "tevo_bridge/metrics.py", "tevo_bridge/cli_support.py")),
    ("tevo, pos", "the two outside parties: TEvo's API and the POS plugin contract",
     ("tevo_bridge/tevo/", "tevo_bridge/pos/")),
    ("intake, dashboard", "where requests arrive, and the runtime Protocols they (and the worker) are handed",
     ("tevo_bridge/seams.py", "tevo_bridge/intake/", "tevo_bridge/dashboard/")),
    ("pipeline", "what happens to an order", ("tevo_bridge/pipeline/", "tevo_bridge/notify/")),
    ("fulfillment", "from invoiced to delivered", ("tevo_bridge/fulfillment/",)),
    ("daemon", "wires the parts into one process; what check and run refuse",
     ("tevo_bridge/daemon.py", "tevo_bridge/serve.py", "tevo_bridge/validation.py",
      "tevo_bridge/security_checks.py")),
    ("testing kit", "what ships to plugin authors: contract suite, pytest plugin, samples, ticket PDFs",
     ("tevo_bridge/testing/",)),
    ("sandbox", "the offline TEvo, and the POS stock that mirrors its listings", ("tevo_bridge/sandbox/",)),
    ("plugins", "the sample, SkyBox and HTTP POS plugins, each its own distribution",
     ("plugins/sqlite_pos/tevo_bridge_sqlite_pos/", "plugins/csv_pos/tevo_bridge_csv_pos/",
      "plugins/skybox_pos/tevo_bridge_skybox_pos/", "plugins/http_pos/tevo_bridge_http_pos/")),
    ("loopback", "daemon + sandbox + POS on loopback ports: the demo, the project's own tests and benchmarks",
     ("tevo_bridge/loopback/", "tevo_bridge/demo.py")),
    ("cli", "the `tevo-bridge` command, which reaches everything", ("tevo_bridge/cli.py",)),
)


@dataclass(frozen=True)
class Import:
    source: str  # module name
    target: str
    where: str  # file:line


def modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name (a package by its own name, for its __init__)."""
    found: dict[str, Path] = {}
    for name, folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [name, *path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module ``name`` (a module, or a name inside one) belongs to, if it is one of ours."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imported_names(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join([*package, *([node.module] if node.module else [])])
    # ``from pkg import sub`` names the submodule when there is one, else a name in pkg itself.
    yield from (f"{base}.{alias.name}" for alias in node.names)


def imports() -> list[Import]:
    known = modules()
    found = []
    for module, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in imported_names(module, path, node):
                target = resolve(name, known)
                if target is not None and target != module:
                    found.append(Import(module, target, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


def layer_of(path: Path) -> int:
    """The index of the layer holding ``path``: the longest member that covers it."""
    rel = path.relative_to(ROOT).as_posix()
    best, best_len = -1, -1
    for index, (_name, _what, members) in enumerate(LAYERS):
        for member in members:
            covers = rel.startswith(member) if member.endswith("/") else rel == member
            if covers and len(member) > best_len:
                best, best_len = index, len(member)
    return best


def circles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_names() -> str:
    return ", ".join(f"{i + 1} {name}" for i, (name, _what, _members) in enumerate(LAYERS))


def test_every_module_has_a_layer():
    """A new module must be placed: otherwise the rule would silently say nothing about it."""
    unplaced = sorted(str(path.relative_to(ROOT)) for path in modules().values() if layer_of(path) < 0)
    assert not unplaced, f"modules in no layer: {unplaced}. Fix: add each to LAYERS in tests/test_layers.py " \
                         "(and the Layers list in docs/architecture.md)."


def test_no_import_climbs_to_a_higher_layer():
    known = modules()
    climbing = []
    for edge in imports():
        source, target = layer_of(known[edge.source]), layer_of(known[edge.target])
        if target > source:
            climbing.append(f"{edge.where}: {edge.source} imports {edge.target}, but layer {source + 1} "
                            f"({LAYERS[source][0]}) may import only from its own layer or below, and "
                            f"{edge.target} is in layer {target + 1} ({LAYERS[target][0]})")
    assert not climbing, "imports that climb (layers, lowest first: " + layer_names() + "):\n" + \
        "\n".join(sorted(set(climbing)))


def test_no_import_circles():
    edges = imports()
    problems = []
    for component in circles(edges):
        members = set(component)
        lines = sorted({f"  {e.where}: {e.source} -> {e.target}" for e in edges
                        if e.source in members and e.target in members})
        problems.append(f"circle between {', '.join(component)}:\n" + "\n".join(lines))
    assert not problems, "import circles (modules must import one way only):\n" + "\n".join(problems)


def architecture_block() -> str:
    """The Layers list as docs/architecture.md shows it."""
    lines = []
    for number, (name, what, members) in enumerate(LAYERS, 1):
        shown = ", ".join(m.removeprefix("tevo_bridge/") for m in members)
        lines.append(f"{number:>2}. {name}: {what}")
        lines.extend(textwrap.wrap(shown, 106, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def test_the_architecture_page_shows_the_layers():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = architecture_block()
    assert block in page, "docs/architecture.md's Layers list differs from LAYERS in tests/test_layers.py; " \
                          "paste this between its ``` fences:\n" + block


def test_the_checker_sees_every_kind_of_import(tmp_path, monkeypatch):
    """A circle through a function-level import and a climb under TYPE_CHECKING are both found."""
    package = tmp_path / "tevo_bridge"
    (package / "dashboard").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "config.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                       "    from tevo_bridge.dashboard import app\n")
    (package / "dashboard" / "__init__.py").write_text("")
    (package / "dashboard" / "app.py").write_text("def f():\n    from .pages import PREFIX\n")
    (package / "dashboard" / "pages.py").write_text("from tevo_bridge.dashboard.app import f\nPREFIX = '/'\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PACKAGES", (("tevo_bridge", "tevo_bridge"),))
    edges = imports()
    assert {(e.source, e.target, e.where) for e in edges} == {
        ("tevo_bridge.config", "tevo_bridge.dashboard.app", "tevo_bridge/config.py:3"),
        ("tevo_bridge.dashboard.app", "tevo_bridge.dashboard.pages", "tevo_bridge/dashboard/app.py:2"),
        ("tevo_bridge.dashboard.pages", "tevo_bridge.dashboard.app", "tevo_bridge/dashboard/pages.py:1"),
    }
    assert circles(edges) == [["tevo_bridge.dashboard.app", "tevo_bridge.dashboard.pages"]]
    known = modules()
    assert layer_of(known["tevo_bridge.config"]) < layer_of(known["tevo_bridge.dashboard.app"])


#: Folders the architecture page's Layout describes as a whole, not file by file.
DESCRIBED_AS_A_WHOLE = ("tevo_bridge/sandbox/",)


def test_the_architecture_layout_names_every_module():
    """The Layout tree is where a newcomer looks first: a module it does not name is one they cannot find."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    layout = page[page.index("## Layout"):page.index("## Layers")]
    missing = []
    for path in sorted((ROOT / "tevo_bridge").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if path.name in ("__init__.py", "__main__.py") or rel.startswith(DESCRIBED_AS_A_WHOLE):
            continue
        if path.name not in layout:
            missing.append(rel)
    assert not missing, f"docs/architecture.md's Layout does not name {missing}: add a line for each."
