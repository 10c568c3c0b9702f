"""The layers hold: import-linter's contracts (pyproject.toml, `[tool.importlinter]`) pass on
the package as it installs, and a module that imports upwards breaks them. The check is
`tools/lint_imports.py`, the same one `make lint` runs (see its docstring for why the package
is installed as a plain tree first)."""

import shutil
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
    store.write_text(store.read_text() + "\nfrom upscway.tasks.cascade import routing  # noqa\n")
    result = lint(broken)
    assert result.returncode == 1
    assert "Layers: cli -> flows -> tasks -> storage -> core BROKEN" in result.stdout
    assert "upscway.storage.store -> upscway.tasks.cascade.routing" in result.stdout


def test_make_lint_checks_this_checkout():
    done = subprocess.run(["make", "--no-print-directory", "lint"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Contracts: 4 kept, 0 broken." in done.stdout


def _checkout_copy(tmp_path):
    """This checkout's tracked files in a fresh folder, with its .venv linked in (its install
    stamp taken as up to date), so `make lint` runs there as it does here."""
    copy = tmp_path / "checkout"
    files = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    )
    for name in filter(None, files):
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


def _make_lint(folder):
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "lint"], cwd=folder, capture_output=True, text=True
    )


def test_make_lint_fails_on_an_unformatted_file_and_on_an_upward_import(tmp_path):
    copy = _checkout_copy(tmp_path)
    clean = _make_lint(copy)
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-3000:]

    routing = copy / "tasks" / "cascade" / "routing.py"
    original = routing.read_text()
    routing.write_text(original + "\n\ndef  badly_spaced( x ):\n    return x\n")
    unformatted = _make_lint(copy)
    assert unformatted.returncode != 0
    assert "tasks/cascade/routing.py" in unformatted.stdout + unformatted.stderr

    routing.write_text(original)
    store = copy / "storage" / "store.py"
    planted = "\n\ndef _planted():\n    from upscway.tasks.cascade import routing  # noqa: F401\n"
    store.write_text(store.read_text() + planted)  # formatted and clean to ruff: only the layers object
    upward = _make_lint(copy)
    assert upward.returncode != 0
    assert "Layers: cli -> flows -> tasks -> storage -> core BROKEN" in upward.stdout
