"""The layers hold: import-linter's contracts (pyproject.toml, `[tool.importlinter]`) pass on
the package as it installs, and a module that imports upwards breaks them. The check is
`tools/lint_imports.py`, the same one `make lint` runs (see its docstring for why the package
is installed as a plain tree first)."""

import subprocess

import pytest

from tools.lint_imports import ROOT, install_tree, lint


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install_tree(ROOT, tmp_path_factory.mktemp("lint"))


def test_the_layer_contracts_hold(installed):
    result = lint(installed)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_an_upward_import_breaks_them(installed, tmp_path):
    broken = tmp_path / "tree"
    subprocess.run(["cp", "-r", str(installed), str(broken)], check=True)
    store = broken / "upscway" / "storage" / "store.py"
    store.write_text(store.read_text() + "\nfrom upscway.tasks.cascade.routing import is_uncertain  # noqa\n")
    result = lint(broken)
    assert result.returncode == 1
    assert "Layers: cli -> flows -> tasks -> storage -> core BROKEN" in result.stdout
    assert "upscway.storage.store -> upscway.tasks.cascade.routing" in result.stdout


def test_make_lint_checks_this_checkout():
    done = subprocess.run(["make", "--no-print-directory", "lint"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Contracts: 4 kept, 0 broken." in done.stdout
