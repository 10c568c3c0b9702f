"""What lives where under the data directory, and how a folder under it is written down.

The registry keeps a model's folder relative to the data directory, so a data directory copied
(`cp -r`), moved or restored from a backup reads and writes its own weights, never the ones of
the folder it was copied from. `stored()` writes a path down, `resolved()` reads one back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "upscway.duckdb"

    @property
    def staging(self) -> Path:
        """Per-run scratch: workers write batches here, the loader moves them into the database."""
        return self.root / "staging"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def studies(self) -> Path:
        """Study data and trained arms (`studies/arms/<key>`, shared by every study)."""
        return self.root / "studies"

    def run_staging(self, run_id: str) -> Path:
        return self.staging / run_id

    @property
    def owned(self) -> tuple[Path, ...]:
        """The folders the store writes and reads itself: nothing else may write into them."""
        return self.staging, self.models, self.reports, self.studies

    def owns(self, path: Path | str) -> bool:
        """Whether `path` is the data directory itself or lies inside one of its own folders."""
        target = Path(path).expanduser().resolve()
        return target == self.root.resolve() or any(target.is_relative_to(f.resolve()) for f in self.owned)

    def stored(self, path: Path | str) -> str:
        """`path` as the registry keeps it: relative to the data directory (POSIX separators)
        when it lies inside it, else as given."""
        inside = _relative_inside(Path(path), self.root)
        return inside.as_posix() if inside is not None else str(path)

    def resolved(self, stored: str) -> str:
        """The folder a stored path names in this data directory: a relative one under it; an
        absolute one inside it as is; an absolute one into another data directory (a copy made
        before paths were stored relative) as the same tail here when that exists; else as stored."""
        path = Path(stored)
        if not path.is_absolute():
            return str(self.root / PurePosixPath(stored))
        if _relative_inside(path, self.root) is not None:
            return stored
        parts = path.parts[1:]
        tails = (Path(*parts[i:]) for i in range(len(parts)))
        return next((str(self.root / t) for t in tails if os.path.lexists(self.root / t)), stored)


def _relative_inside(path: Path, root: Path) -> Path | None:
    """`path` relative to `root` when it lies inside it (as written, or once symlinks are resolved)."""
    if not path.is_absolute():
        return None
    for candidate, base in ((path, root), (path.resolve(), root.resolve())):
        if candidate != base and candidate.is_relative_to(base):
            return candidate.relative_to(base)
    return None
