"""The release files: one version per distribution, plugins pinned to the core they ship with, package data in the
wheel.  .ci/wheels.py goes further (builds all four, installs them in a fresh venv, runs the demo); these are the
cheap checks that fail first, in any test run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import tevo_bridge

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIRS = sorted((REPO / "plugins").glob("*/pyproject.toml"))


def _pyproject(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def test_version_shown_is_the_distribution_metadata() -> None:
    cli = Path(sys.executable).parent / "tevo-bridge"
    shown = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True, timeout=60).stdout
    installed = metadata.version("tevo-bridge")
    # A mismatch after a version bump means the editable install is stale: `pip install -e .` again.
    assert shown.startswith(f"tevo-bridge {installed} "), (shown, installed)
    assert tevo_bridge.__version__ == installed


def test_plugins_show_the_version_of_their_pyproject() -> None:
    """Each plugin's one version source is its pyproject; `tevo-bridge plugins` shows what its metadata says."""
    cli = Path(sys.executable).parent / "tevo-bridge"
    listed = json.loads(subprocess.run([str(cli), "plugins", "--json"], capture_output=True, text=True, check=True,
                                       timeout=60).stdout)
    shown = {plugin["distribution"]: plugin["version"] for plugin in listed}
    for pyproject in PLUGIN_DIRS:
        project = _pyproject(pyproject)["project"]
        assert shown[project["name"]] == project["version"] == metadata.version(project["name"]), pyproject


def test_core_version_has_one_source() -> None:
    project = _pyproject(REPO / "pyproject.toml")
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tevo_bridge.__version__"}


@pytest.mark.parametrize("pyproject", PLUGIN_DIRS, ids=lambda p: p.parent.name)
def test_plugins_require_the_core_they_ship_with(pyproject: Path) -> None:
    """The plugins are released from the same commit as the core: this core satisfies them, its next minor
    release (which may change the plugin contract) does not."""
    dependencies: list[str] = _pyproject(pyproject)["project"]["dependencies"]
    [core] = [Requirement(d) for d in dependencies if Requirement(d).name == "tevo-bridge"]
    current = Version(tevo_bridge.__version__)
    next_minor = Version(f"{current.major}.{current.minor + 1}.0")
    assert core.specifier.contains(current), (str(core), str(current))
    assert not core.specifier.contains(next_minor), (str(core), str(next_minor))


def _git_files(under: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", under],
                            cwd=REPO, capture_output=True, text=True, check=True, timeout=60).stdout
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def test_core_wheel_carries_every_data_file(tmp_path: Path) -> None:
    """Templates, static files, JSON samples and plugin templates: each file of the package that is not Python
    must be in the wheel, or an installed (not editable) daemon fails where the checkout works.

    Built from a clean copy: in the checkout, setuptools would also pick up the files listed in the SOURCES.txt
    and build/ that the editable install left, and pass with package-data wrong."""
    source, dist = tmp_path / "src", tmp_path / "dist"
    package = _git_files("tevo_bridge")
    for name in [*package, "pyproject.toml", "README.md"]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(source)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = dist.glob("tevo_bridge-*.whl")
    assert wheel.name.startswith(f"tevo_bridge-{tevo_bridge.__version__}-")
    data = {name for name in package if not name.endswith(".py")}
    assert "tevo_bridge/dashboard/static/htmx.min.js" in data, "the test would prove nothing"
    with zipfile.ZipFile(wheel) as z:
        missing = data - set(z.namelist())
    assert not missing, f"left out of the wheel (add them to [tool.setuptools.package-data]): {sorted(missing)}"
