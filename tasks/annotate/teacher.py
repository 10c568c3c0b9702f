"""The one interface every teacher implements (`teachers.make_teacher` picks one by settings)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from upscway.tasks.annotate.taxonomy import SoftLabel


@dataclass(frozen=True)
class TeacherFailure:
    """No usable answer for a chunk; `reason` is stored in `failures` (never holds a secret)."""

    reason: str


Answer = SoftLabel | TeacherFailure
OnAnswer = Callable[[int, Answer], None]


class Teacher(Protocol):
    annotator_id: str

    def annotate(self, texts: Sequence[str], on_answer: OnAnswer | None = None) -> list[Answer]:
        """One answer per text, in order; `on_answer(i, answer)` is called as each arrives."""
        ...

    def close(self) -> None: ...
