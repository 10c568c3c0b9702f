"""The teacher a setting names: `openai`, `transformers` (a local causal LM), `encoder` (a
trained encoder student), `embedding` (zero-shot MiniLM) or `recorded` (answers computed
elsewhere, read from `teacher.answers_file`). Backends import lazily, so a run that uses one
never loads the others' libraries."""

from __future__ import annotations

import os
from pathlib import Path

from upscway.errors import InputError
from upscway.settings import TeacherSettings
from upscway.tasks.annotate.teacher import Teacher
from upscway.taxonomy import TaskDefinition


def make_teacher(task: TaskDefinition, settings: TeacherSettings, api_key: str | None = None) -> Teacher:
    """The teacher `settings.backend` names; `settings.annotator`, when set, is the name its
    answers are stored under (a registered student relabelling is stored as `model:<id>`)."""
    teacher = _build(task, settings, api_key)
    teacher.annotator_id = annotator_of(settings)
    return teacher


def resolve_api_key(settings: TeacherSettings) -> str | None:
    """The key from the environment variable `api_key_env`, else from the Prefect Secret block
    `api_key_secret`. It is returned to the caller only; nothing here logs or stores it."""
    key = os.environ.get(settings.api_key_env)
    if key:
        return key
    if settings.api_key_secret:
        from prefect.blocks.system import Secret

        try:
            return Secret.load(settings.api_key_secret).get()
        except ValueError:
            raise InputError(f"no Prefect Secret block named {settings.api_key_secret!r}") from None
    return None


def annotator_of(settings: TeacherSettings) -> str:
    """The name the teacher's answers are stored under, known without loading it."""
    if settings.annotator:
        return settings.annotator
    if settings.backend == "openai":
        return f"openai:{settings.model}"
    if settings.backend == "transformers":
        return f"causal-lm:{Path(str(settings.local_model)).name}"
    if settings.backend == "encoder":
        return f"encoder:{Path(str(settings.local_model)).name}"
    if settings.backend == "recorded":
        return f"recorded:{_answers_file(settings).stem}"
    return f"embedding:{Path(settings.embedding_model).name}@T{settings.embedding_temperature:g}"


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
        from upscway.tasks.annotate.encoder_teacher import EncoderTeacher

        return EncoderTeacher(task, settings.local_model, f"encoder:{settings.local_model.name}", settings.batch_size)
    if settings.backend == "recorded":
        from upscway.tasks.annotate.recorded import RecordedTeacher

        return RecordedTeacher(task, _answers_file(settings))
    from upscway.tasks.annotate.embedding_teacher import EmbeddingTeacher

    return EmbeddingTeacher(task, settings.embedding_model, temperature=settings.embedding_temperature)


def _answers_file(settings: TeacherSettings) -> Path:
    if settings.answers_file is None:
        raise InputError(
            "the recorded teacher needs teacher.answers_file (a JSONL of answers computed elsewhere, "
            "e.g. UPSCWAY_TEACHER__ANSWERS_FILE=answers.jsonl)"
        )
    return settings.answers_file
