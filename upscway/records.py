"""Records that cross layers: what a stage hands to the store and reads back.

They live at the bottom so that tasks and storage both depend on them, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Self

PRODUCTION = "production"  # the registry alias the cascade's student is read from
MODEL_ANNOTATOR = "model:"  # a registered student's answers are stored as `model:<id>`


def model_annotator(model_id: str) -> str:
    """The annotator id a registered student's answers are stored under."""
    return f"{MODEL_ANNOTATOR}{model_id}"


def model_of(annotator: str) -> str | None:
    """The model id in a `model:<id>` annotator, or None for any other annotator."""
    return annotator[len(MODEL_ANNOTATOR) :] if annotator.startswith(MODEL_ANNOTATOR) else None


class RunStatus(StrEnum):
    """A flow run's status in `flow_runs` (and a nightly step's in its summary)."""

    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_FAILURES = "completed_with_failures"
    FAILED = "failed"
    CRASHED = "crashed"
    SKIPPED = "skipped"

    @property
    def shown(self) -> str:
        return self.value.replace("_", " ")


class Decider(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"


@dataclass(frozen=True)
class Tag:
    """A chunk's final label and who decided it (the cascade's output, stored in `tags`)."""

    chunk_id: str
    text_hash: str
    label: str
    probs: list[float]
    confidence: float
    decided_by: Decider
    annotator: str


@dataclass(frozen=True)
class ChunkRef:
    """An untagged chunk as the tag stage reads it: which chunk, which text (chunks of several
    articles may share one), its article's language (None: unknown) and its article (the unit
    the calibration draw samples and the live check weighs by; None: each chunk its own, and a
    paragraph written for review, which is never drawn for calibration)."""

    chunk_id: str
    text_hash: str
    language: str | None = None  # its article's; None: unknown
    article_id: str | None = None


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk on the tag path, from scoring to its stored `Tag`: which chunk and text, the
    student's label distribution on the text and the teacher's answer once fetched (None: not
    asked, or not answered). `scored`: the student scored the text (False: no production
    student, or a language it does not serve); a scored text whose `student` is None was refused
    by the scorer (NaN or infinite scores are no distribution), which the audit judges broken."""

    chunk_id: str
    text_hash: str
    language: str | None = None
    student: list[float] | None = None
    scored: bool = False
    teacher: list[float] | None = None
    article_id: str | None = None


@dataclass(frozen=True)
class Audited:
    """One audited chunk: the student decided it; the teacher answered it too."""

    chunk_id: str
    text_hash: str
    student_label: str
    teacher_label: str


class Counts:
    """A dataclass of counts (a batch's, a load's) that a run adds up into its totals."""

    def add(self, other: Self) -> None:
        """Add `other`'s counts to these, field by field."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@dataclass(frozen=True)
class Failure:
    """An item that failed (a feed, a page, a chunk the teacher could not answer) and why;
    `transient` when trying again later may succeed (a 503, a timeout), as opposed to a 404."""

    stage: str
    item: str
    reason: str
    transient: bool = False


@dataclass
class GoldRow:
    """One reviewed row of an import: a label for a stored chunk, or for a new paragraph."""

    line: int
    chunk_id: str
    text: str
    gold_label: str
    annotator: str
    note: str = ""
    source_url: str = ""
    sampling: str = ""  # random | uncertainty | disagreement | authored ("": not recorded)
    # for `random`, `audit`: the chunk's chance of being on the sheet (its article drawn × chosen among the pool)
    sampling_probability: float | None = None


@dataclass
class Candidate:
    """A chunk offered for review, with one annotator's answer (the teacher's by default) and
    the article it comes from."""

    chunk_id: str
    text: str
    source_url: str
    teacher_label: str
    probs: list[float]
    confidence: float
    text_hash: str
    annotator: str = ""
    title: str = ""
    date: str = ""
