"""A staged batch: JSON-lines files that a worker writes and the single loader inserts.

Workers (threads, processes or other machines) never open the database; they leave a folder
`staging/<run id>/batch-<id>/` holding `articles.jsonl`, `chunks.jsonl` and `failures.jsonl`, and
the loader moves it into DuckDB in one transaction, then deletes it. A crash between the two
loses nothing: the next ingest loads the complete batches a dead run left (`leftovers`), and
the URLs of half-written ones are still pending in the frontier. A run's staging folder is also
its scratch space for other files it writes before they are complete (a model being prepared);
every run removes what dead runs left there (`prune`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from upscway.records import Failure

FILES = ("articles", "chunks", "failures")


@dataclass(frozen=True)
class StagedBatch:
    path: Path

    def file(self, kind: str) -> Path:
        return self.path / f"{kind}.jsonl"

    def write(self, articles: list[dict[str, Any]], chunks: list[dict[str, Any]], failures: list[Failure]) -> None:
        tmp = self.path.with_name(self.path.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for kind, rows in (("articles", articles), ("chunks", chunks), ("failures", [asdict(f) for f in failures])):
            with open(tmp / f"{kind}.jsonl", "w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp.rename(self.path)  # a batch is visible to the loader only once complete

    def rows(self, kind: str) -> Iterator[dict[str, Any]]:
        with open(self.file(kind), encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)

    def failures(self) -> list[Failure]:
        return [Failure(**row) for row in self.rows("failures")]

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@dataclass(frozen=True)
class Leftovers:
    """What dead runs left under `staging/`: their folders, and the complete batches in them."""

    folders: list[Path]
    batches: list[StagedBatch]

    def remove(self) -> None:
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)


def _is_batch(path: Path) -> bool:
    return path.is_dir() and path.name.startswith("batch-") and not path.name.endswith(".partial")


def _dead_runs(staging: Path, live_runs: set[str]) -> list[Path]:
    return sorted(p for p in staging.iterdir() if p.is_dir() and p.name not in live_runs) if staging.is_dir() else []


def leftovers(staging: Path, live_runs: set[str]) -> Leftovers:
    """The staging folders of runs not in `live_runs`, and the complete batches in them."""
    folders = _dead_runs(staging, live_runs)
    return Leftovers(folders, [StagedBatch(b) for f in folders for b in sorted(f.iterdir()) if _is_batch(b)])


def prune(staging: Path, live_runs: set[str]) -> None:
    """Remove what runs not in `live_runs` left in their staging folders (half-written
    batches, a model being prepared), keeping complete batches for the next ingest to load."""
    for folder in _dead_runs(staging, live_runs):
        for item in folder.iterdir():
            if not _is_batch(item):
                shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)
        if not any(folder.iterdir()):
            folder.rmdir()
