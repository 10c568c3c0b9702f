"""Silver annotations: which chunk texts still need a teacher's answer, and storing answers.

An answer is keyed by (chunk text hash, annotator, prompt version); the insert skips a key
already present, so a rerun or a race between two runs can never duplicate one. A row holds
finite numbers only: one that does not is refused when it is made, before any insert.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from upscway.storage.statements import sql


@dataclass(frozen=True)
class AnswerRow:
    text_hash: str
    label: str
    label_index: int
    probs: list[float]
    confidence: float
    off_label_mass: float | None
    rationale: str | None
    tokens_in: int
    tokens_out: int
    cost: float
    latency_ms: float

    def __post_init__(self) -> None:
        numbers = {
            "confidence": self.confidence,
            "off_label_mass": self.off_label_mass,
            "cost": self.cost,
            "latency_ms": self.latency_ms,
        }
        numbers.update({f"probs[{i}]": p for i, p in enumerate(self.probs)})
        wrong = [name for name, value in numbers.items() if value is not None and not math.isfinite(value)]
        if wrong or not self.probs:
            raise ValueError(
                f"answer for {self.text_hash} refused: {', '.join(wrong) or 'probs'} not finite ({self.probs!r})"
            )
        if not 0 <= self.label_index < len(self.probs):
            raise ValueError(
                f"answer for {self.text_hash} refused: label_index {self.label_index} outside its {len(self.probs)} probs"
            )
        if not all(0 <= n < 2**31 for n in (self.tokens_in, self.tokens_out)):
            raise ValueError(
                f"answer for {self.text_hash} refused: token counts {self.tokens_in}, {self.tokens_out} outside 0..2^31"
            )


@dataclass(frozen=True)
class LabelCount:
    label: str
    chunks: int
    tokens_in: int
    tokens_out: int
    cost: float


@dataclass(frozen=True)
class TrainingRow:
    """A chunk with a teacher's answer, its article, and the latest gold label (None if none)."""

    chunk_id: str
    article_id: str
    text: str
    probs: list[float]
    gold_label: str | None


def pending(
    conn: duckdb.DuckDBPyConnection,
    annotator: str,
    version: str,
    *,
    source: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    only_unlabeled: bool = False,
) -> list[str]:
    """Hashes of the chunk texts still to annotate, oldest chunks first."""
    params = {
        "annotator": annotator,
        "version": version,
        "source": source,
        "since": since,
        "limit": limit,
        "only_unlabeled": only_unlabeled,
    }
    return [text_hash for text_hash, _ in conn.execute(sql("annotations", "pending"), params).fetchall()]


def texts(conn: duckdb.DuckDBPyConnection, hashes: list[str]) -> dict[str, str]:
    return dict(conn.execute(sql("annotations", "texts"), [hashes]).fetchall())


def insert(
    conn: duckdb.DuckDBPyConnection, rows: list[AnswerRow], annotator: str, task: str, version: str, run_id: str
) -> int:
    if not rows:
        return 0
    columns = {name: [getattr(r, name) for r in rows] for name in AnswerRow.__dataclass_fields__}
    columns["off_label"] = columns.pop("off_label_mass")
    params = {**columns, "annotator": annotator, "task": task, "version": version, "run_id": run_id}
    return len(conn.execute(sql("annotations", "insert"), params).fetchall())


def run_summary(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[LabelCount]:
    """What a run stored, per label."""
    return [LabelCount(*row) for row in conn.execute(sql("annotations", "run_summary"), [run_id]).fetchall()]


def answers(conn: duckdb.DuckDBPyConnection, annotator: str, version: str, hashes: list[str]) -> dict[str, list[float]]:
    """Text hash → the label probabilities `annotator` gave it (prompt `version`), where stored."""
    return dict(conn.execute(sql("annotations", "teacher_probs"), [annotator, version, hashes]).fetchall())


def training_rows(
    conn: duckdb.DuckDBPyConnection, annotator: str, version: str, task: str, served: Sequence[str] | None = None
) -> list[TrainingRow]:
    """Chunks `annotator` answered, with their gold; with `served`, only those of articles in
    these languages or of unknown language."""
    params = {
        "annotator": annotator,
        "version": version,
        "task": task,
        "served": list(served) if served is not None else None,
    }
    return [TrainingRow(*row) for row in conn.execute(sql("annotations", "training_rows"), params).fetchall()]


def new_since_training(conn: duckdb.DuckDBPyConnection, annotator: str, version: str, chain: str) -> int:
    """How many answers `annotator` gave (prompt `version`) since `chain` last trained."""
    return conn.execute(
        sql("annotations", "new_since_training"), {"annotator": annotator, "version": version, "chain": chain}
    ).fetchone()[0]


def mean_latency_ms(conn: duckdb.DuckDBPyConnection, annotator: str, version: str, hashes: list[str]) -> float | None:
    """The mean stored latency of `annotator`'s answers on `hashes` (None: none recorded)."""
    return conn.execute(sql("annotations", "mean_latency"), [annotator, version, hashes]).fetchone()[0]
