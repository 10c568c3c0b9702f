"""What lives where under the data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
