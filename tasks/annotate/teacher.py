"""The one interface every teacher implements, and the factory that picks one by settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from upscway.errors import InputError
from upscway.settings import TeacherSettings
from upscway.tasks.annotate.taxonomy import SoftLabel, TaskDefinition


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


def make_teacher(task: TaskDefinition, settings: TeacherSettings, api_key: str | None = None) -> Teacher:
    """The teacher `settings.backend` names; `settings.annotator`, when set, is the name its
    answers are stored under (a registered student relabelling is stored as `model:<id>`)."""
    teacher = _build(task, settings, api_key)
    if settings.annotator:
        teacher.annotator_id = settings.annotator
    return teacher


def _build(task: TaskDefinition, settings: TeacherSettings, api_key: str | None) -> Teacher:
    if settings.backend == "openai":
        from upscway.tasks.annotate.openai_teacher import OpenAITeacher

        return OpenAITeacher(task, settings, api_key)
    if settings.backend in ("transformers", "encoder") and settings.local_model is None:
        raise InputError(f"the {settings.backend} teacher needs teacher.local_model (a model folder)")
    if settings.backend == "transformers":
        from upscway.tasks.annotate.local_teacher import CausalLMTeacher

        return CausalLMTeacher(task, settings.local_model, batch_size=settings.batch_size)
    if settings.backend == "encoder":
        from upscway.tasks.distill.encoder import EncoderTeacher

        return EncoderTeacher(task, settings.local_model, f"encoder:{settings.local_model.name}", settings.batch_size)
    from upscway.tasks.annotate.embedding_teacher import EmbeddingTeacher

    return EmbeddingTeacher(task, settings.embedding_model, temperature=settings.embedding_temperature)
