"""The one interface every teacher implements (`teachers.make_teacher` picks one by settings)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from upscway.settings import TeacherSettings
from upscway.taxonomy import SoftLabel, TaskDefinition


@dataclass(frozen=True)
class TeacherFailure:
    """No usable answer for a chunk; `reason` is stored in `failures` (never holds a secret)."""

    reason: str

    @property
    def probs(self) -> list[float]:
        """Refused: a caller that needs every chunk's probabilities (evaluation, a student's
        scores) stops here with the reason, rather than on a missing attribute."""
        raise ValueError(f"the teacher gave no answer for a chunk: {self.reason}")


Answer = SoftLabel | TeacherFailure
OnAnswer = Callable[[int, Answer], None]


def answer_or_failure(probs: list[float], **fields) -> Answer:
    """A SoftLabel, or this chunk's TeacherFailure when the numbers are not a distribution (a
    NaN from a model fails its chunk, not the batch, and is never stored)."""
    try:
        return SoftLabel(probs=probs, **fields)
    except ValueError as exc:
        return TeacherFailure(f"answer refused: {exc}")


class Teacher(Protocol):
    annotator_id: str

    def annotate(self, texts: Sequence[str], on_answer: OnAnswer | None = None) -> list[Answer]:
        """One answer per text, in order; `on_answer(i, answer)` is called as each arrives."""
        ...

    def close(self) -> None: ...


class Teachers(Protocol):
    """Where a run's steps get their teacher: one per task and settings in a process, built on
    first use and closed when the run ends (`tasks.resources.RunResources`)."""

    def teacher(self, task_def: TaskDefinition, settings: TeacherSettings) -> Teacher: ...
