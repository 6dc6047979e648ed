"""The project stands on its own: it cites only its own docs, and every section it cites exists.

The TEvo reference the code relies on is docs/tevo-api.md and the design is docs/architecture.md.
A citation of a file outside the project, or of a section docs/tevo-api.md no longer has, would
send a reader nowhere, so both fail here.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEVO_API = ROOT / "docs" / "tevo-api.md"

# Built from pieces so that this file does not trip its own check.
FORBIDDEN = {
    "the old TEvo notes (cite docs/tevo-api.md)": re.compile(re.escape("TEVO_API" + ".md")),
    "the old design sketch (cite docs/architecture.md)": re.compile(re.escape("DESIGN" + ".md")),
    "a folder outside the project (copy what is needed into tests/fixtures)": re.compile(
        r"(?:\.\./+|/work/|(?<![\w./-]))" + "shared" + r"/"
    ),
}

HEADING = re.compile(r"^(#{2,3}) (\d+(?:\.\d+)?)\.? +(.+?)\s*$", re.M)
# "docs/tevo-api.md §3.3, §3.5", "tevo-api.md §3–§5", "[tevo-api.md §10](tevo-api.md#10-open-questions)"
CITATION = re.compile(r"tevo-api\.md((?:(?:\s*(?:,|;|and|–|-)\s*|\s+)§\s*\d+(?:\.\d+)?)+)")
SECTION = re.compile(r"§\s*(\d+(?:\.\d+)?)")
ANCHOR = re.compile(r"tevo-api\.md#([\w-]+)")


def project_files() -> list[Path]:
    """Every file git tracks, or would track (new and not ignored); every file but .git and .venv without git."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout.decode("utf-8").split("\0")
        files = [ROOT / name for name in listed if name]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for folder, dirs, names in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in (".git", ".venv", "__pycache__") and not d.endswith(".egg-info")]
            files.extend(Path(folder) / name for name in names)
    return [f for f in files if f.is_file()]


def text_files() -> dict[str, str]:
    texts = {}
    for path in project_files():
        data = path.read_bytes()
        if b"\0" in data:  # PDFs and other binaries
            continue
        texts[path.relative_to(ROOT).as_posix()] = data.decode("utf-8", errors="replace")
    return texts


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return text_files()


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


@pytest.fixture(scope="module")
def headings() -> dict[str, str]:
    """Section number -> heading text ("2.1" -> "2.1 Algorithm")."""
    return {m.group(2): f"{m.group(2)}{'.' if m.group(1) == '##' else ''} {m.group(3)}"
            for m in HEADING.finditer(TEVO_API.read_text(encoding="utf-8"))}


def where(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def test_no_file_points_outside_the_project(texts: dict[str, str]) -> None:
    found = [f"{name}:{where(text, m.start())}: {m.group(0)!r} is {what}"
             for name, text in texts.items() for what, pattern in FORBIDDEN.items()
             for m in pattern.finditer(text)]
    assert not found, "\n".join(found)


def test_the_forbidden_patterns_catch_what_they_are_for() -> None:
    old_notes, old_design, folder = "TEVO_API" + ".md", "DESIGN" + ".md", "shared"
    samples = {
        f"see {old_notes} §9": 0,
        f"as {old_design} says": 1,
        f"data from ../{folder}/fixtures": 2,
        f"/work/{folder}/fixtures/README.md": 2,
        f"{folder}/{old_notes}": 2,
    }
    patterns = list(FORBIDDEN.values())
    for text, index in samples.items():
        assert patterns[index].search(text), text
    assert not any(p.search("fixtures shared by the tests; shared_state; docs/architecture.md") for p in patterns)


def test_tevo_api_sections_are_numbered_without_gaps(headings: dict[str, str]) -> None:
    """Citations point at section numbers, so sections are added at the end, never renumbered."""
    tops = [int(n) for n in headings if "." not in n]
    assert tops == list(range(1, 11)), tops
    for top in tops:
        subs = [int(n.split(".")[1]) for n in headings if n.startswith(f"{top}.")]
        assert subs == list(range(1, len(subs) + 1)), (top, subs)


def test_every_tevo_api_citation_names_an_existing_section(texts: dict[str, str], headings: dict[str, str]) -> None:
    cited = 0
    missing = []
    for name, text in texts.items():
        for match in CITATION.finditer(text):
            for number in SECTION.findall(match.group(1)):
                cited += 1
                if number not in headings:
                    missing.append(f"{name}:{where(text, match.start())}: §{number} is not a heading of {TEVO_API.name}")
    assert not missing, "\n".join(missing)
    assert cited >= 40, f"only {cited} citations found: has the citation pattern stopped matching?"


def test_every_tevo_api_link_anchor_exists(texts: dict[str, str], headings: dict[str, str]) -> None:
    anchors = {slug(title) for title in headings.values()}
    broken = [f"{name}:{where(text, m.start())}: #{m.group(1)}"
              for name, text in texts.items() for m in ANCHOR.finditer(text) if m.group(1) not in anchors]
    assert not broken, "\n".join(broken)
