"""The layers hold: import-linter's contracts (pyproject.toml, `[tool.importlinter]`) pass on
the package as it installs, and a module that imports upwards breaks them.

The repository maps flows/, tasks/, storage/ to `upscway.*` (see `[tool.setuptools]`), which
the editable install resolves with an import hook that import-linter cannot walk; so the test
installs the package as a plain tree in a temporary folder and checks that.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    # From a copy: building in the repository would leave a build/ folder whose stale files
    # (modules since deleted) a later build would install.
    source = tmp_path_factory.mktemp("source") / "upscway"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "data", "build", "*.egg-info", "__pycache__", "tests"))
    target = tmp_path_factory.mktemp("installed")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-compile",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, cwd=target, env={"PYTHONWARNINGS": "ignore", "PATH": ""},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
         "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True, text=True, cwd=tree, env={"PYTHONPATH": str(tree), "PATH": ""},
    )


def test_the_layer_contracts_hold(installed):
    result = lint_imports(installed)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_an_upward_import_breaks_them(installed, tmp_path):
    broken = tmp_path / "tree"
    subprocess.run(["cp", "-r", str(installed), str(broken)], check=True)
    store = broken / "upscway" / "storage" / "store.py"
    store.write_text(store.read_text() + "\nfrom upscway.tasks.cascade import is_uncertain  # noqa\n")
    result = lint_imports(broken)
    assert result.returncode == 1
    assert "Layers: flows -> tasks -> storage -> core BROKEN" in result.stdout
    assert "upscway.storage.store -> upscway.tasks.cascade" in result.stdout
