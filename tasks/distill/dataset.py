"""Training data for a student: chunks with a teacher's soft labels, and gold labels where people
gave them, split by article so that no article is on both sides of a split.

Each article falls in `train`, `validation` or `eval` by a hash of its id (stable across runs
and machines). The gold chunks of `eval` articles are the evaluation gold split; nothing from
an `eval` article is ever trained on, silver or gold.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from upscway.storage import annotations as annotation_rows
from upscway.taxonomy import TaskDefinition

SPLITS = ("train", "validation", "eval")
LOG_FLOOR = 1e-8


def split_of(article_id: str, eval_fraction: float = 0.5, validation_fraction: float = 0.1) -> str:
    """The split an article belongs to; `eval_fraction` and `validation_fraction` of articles."""
    point = int(hashlib.sha256(f"upscway-split:{article_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if point < eval_fraction:
        return "eval"
    if point < eval_fraction + validation_fraction:
        return "validation"
    return "train"


@dataclass(frozen=True)
class Example:
    chunk_id: str
    article_id: str
    text: str
    teacher_logprobs: tuple[float, ...]
    gold: int  # label index, -1 without a gold label


@dataclass
class Splits:
    train: list[Example] = field(default_factory=list)
    validation: list[Example] = field(default_factory=list)
    eval: list[Example] = field(default_factory=list)  # only chunks with a gold label

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in SPLITS}


def build_splits(
    conn: duckdb.DuckDBPyConnection,
    task: TaskDefinition,
    annotator: str,
    version: str,
    eval_fraction: float = 0.5,
    validation_fraction: float = 0.1,
    served: Sequence[str] | None = None,
) -> Splits:
    """The splits of every chunk `annotator` answered; with `served` (the languages the students
    serve), none of an article identified as in another language: a student never decides one."""
    splits = Splits()
    for row in annotation_rows.training_rows(conn, annotator, version, task.name, served):
        example = Example(
            row.chunk_id,
            row.article_id,
            row.text,
            tuple(math.log(max(p, LOG_FLOOR)) for p in row.probs),
            task.index(row.gold_label) if row.gold_label else -1,
        )
        where = split_of(row.article_id, eval_fraction, validation_fraction)
        if where == "eval":
            if example.gold >= 0:
                splits.eval.append(example)
        else:
            getattr(splits, where).append(example)
    return splits
