"""``tevo-bridge plugin new``: the generated package installs and passes the contract suite as generated.

The end-to-end test does what an author does, for real: generate, ``pip install -e`` into a fresh
venv, run the generated tests with that venv's Python. The venv sees this environment's packages
(tevo-bridge, pytest, setuptools) through a ``.pth`` file, so nothing is downloaded: the install
runs without build isolation, with pip's ``--no-index``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tevo_bridge.cli import app
from tevo_bridge.pos.scaffold import PluginName, PluginNameError, generate_plugin
from tevo_bridge.testing.contract import REMOTE_POS_TESTS, PosContract


def _setuptools_builds_wheels() -> bool:
    """Without build isolation, pip builds with the setuptools installed here; before 70.1 that needs ``wheel``."""
    try:
        import wheel  # noqa: F401
    except ImportError:
        major, minor = (int(part) for part in metadata.version("setuptools").split(".")[:2])
        return (major, minor) >= (70, 1)
    return True


@pytest.mark.skipif(not _setuptools_builds_wheels(), reason='needs setuptools>=70.1 or wheel: pip install -e ".[test]"')
def test_a_generated_plugin_installs_and_passes_the_contract_suite(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plugin", "new", "acme-pos", "--dir", str(tmp_path / "src")])
    assert result.exit_code == 0, result.output
    project = tmp_path / "src" / "acme-pos"
    assert (project / "acme_pos" / "__init__.py").is_file()

    venv = tmp_path / "venv"
    # --without-pip: the venv's own (older) pip and setuptools would shadow this environment's.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       check=True, capture_output=True, text=True).stdout.strip()
    )
    # An ``import`` line of a .pth file runs: addsitedir also processes this environment's own .pth
    # files, so editable installs of tevo-bridge and the sample plugins are importable too.
    (site_packages / "_parent_env.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n", encoding="utf-8"
    )
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(project)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    plugins = subprocess.run([python, "-m", "tevo_bridge.cli", "plugins", "--json"],
                             capture_output=True, text=True, cwd=tmp_path, timeout=120)
    tests = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        capture_output=True, text=True, cwd=project, timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-3000:]
    contract_tests = sum(name.startswith("test_") for name in dir(PosContract))
    remote = len(REMOTE_POS_TESTS)  # all of them but the remote-POS tests, which need fixtures a local POS lacks
    assert f"{contract_tests + 1 - remote} passed, {remote} skipped" in tests.stdout, tests.stdout[-3000:]
    listed = {p["name"]: p for p in json.loads(plugins.stdout)} if plugins.returncode == 0 else {}
    assert listed.get("acme_pos", {}).get("status") == "ok", plugins.stdout + plugins.stderr
    assert listed["acme_pos"]["distribution"] == "acme-pos"


@pytest.mark.parametrize("name", ["Acme", "1pos", "acme pos", "acme__pos", "acme_", "", "acme.pos"])
def test_a_name_that_is_not_a_package_name_is_refused_with_what_a_valid_one_looks_like(name: str) -> None:
    with pytest.raises(PluginNameError, match="lowercase letters"):
        PluginName.parse(name)


@pytest.mark.parametrize("name", ["json", "tevo_bridge", "pytest", "import"])
def test_a_name_that_would_clash_with_a_module_or_keyword_is_refused(name: str) -> None:
    with pytest.raises(PluginNameError, match="clashes|keyword"):
        PluginName.parse(name)


def test_the_names_of_a_plugin() -> None:
    assert PluginName.parse("acme-box_office") == PluginName("acme_box_office", "acme_box_office", "acme-box-office",
                                                             "AcmeBoxOffice")


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "acme_pos").mkdir()
    (tmp_path / "acme_pos" / "mine.py").write_text("keep me", encoding="utf-8")
    result = CliRunner().invoke(app, ["plugin", "new", "acme_pos", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert sorted(p.name for p in (tmp_path / "acme_pos").iterdir()) == ["mine.py"]


def test_the_generated_project_has_an_entry_point_a_config_model_and_every_required_hook(tmp_path: Path) -> None:
    from tevo_bridge.pos.hookspecs import REQUIRED_HOOKS

    project = generate_plugin("acme_pos", tmp_path)
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert '[project.entry-points.tevo_bridge]\nacme_pos = "acme_pos:AcmePos"' in pyproject
    code = (project / "acme_pos" / "__init__.py").read_text(encoding="utf-8")
    assert "class Config(BaseModel):" in code
    assert all(f"def {hook}(" in code for hook in REQUIRED_HOOKS)
    assert "$" not in code  # every placeholder filled
