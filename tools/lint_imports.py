"""Check the import contracts (pyproject.toml, `[tool.importlinter]`) on this checkout:
`make lint`, or `.venv/bin/python -m tools.lint_imports`.

import-linter reads the package from files on disk, and this repository maps flows/, tasks/
and storage/ to `upscway.*` (`[tool.setuptools]`), which an editable install resolves with an
import hook that it cannot walk: `lint-imports` run from the root says "module upscway.flows
does not exist". So the checkout is installed as a plain tree in a temporary folder (from a
copy: building in place would leave a build/ folder whose stale files a later build would
install) and the linter runs there, with this checkout's contracts. The exit status is the
linter's: 0 when every contract is kept.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_THE_PACKAGE = (".*", "data", "build", "*.egg-info", "__pycache__", "tests", "tools")


def install_tree(checkout: Path, work: Path) -> Path:
    """The package of `checkout` installed as plain files under `work`; returns the tree."""
    source, target = work / "source" / "upscway", work / "installed"
    shutil.copytree(checkout, source, ignore=shutil.ignore_patterns(*NOT_THE_PACKAGE))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env={"PYTHONWARNINGS": "ignore", "PATH": ""},
    )
    if done.returncode != 0:
        raise RuntimeError(f"installing {checkout} as a plain tree failed:\n{done.stderr[-3000:]}")
    return target


def lint(tree: Path, config: Path = ROOT / "pyproject.toml") -> subprocess.CompletedProcess:
    """import-linter's `lint-imports` over the installed tree, with `config`'s contracts."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
            "--config",
            str(config),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": ""},
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="upscway-lint-") as work:
        result = lint(install_tree(ROOT, Path(work)))
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
