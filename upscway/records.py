"""Records that cross layers: what a stage hands to the store and reads back.

They live at the bottom so that tasks and storage both depend on them, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PRODUCTION = "production"  # the registry alias the cascade's student is read from
MODEL_ANNOTATOR = "model:"  # a registered student's answers are stored as `model:<id>`


def model_annotator(model_id: str) -> str:
    """The annotator id a registered student's answers are stored under."""
    return f"{MODEL_ANNOTATOR}{model_id}"


def model_of(annotator: str) -> str | None:
    """The model id in a `model:<id>` annotator, or None for any other annotator."""
    return annotator[len(MODEL_ANNOTATOR):] if annotator.startswith(MODEL_ANNOTATOR) else None


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
    sampling_probability: float | None = None  # for `random`: the chance each candidate had of being drawn


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
