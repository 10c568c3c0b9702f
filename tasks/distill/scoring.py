"""A registered student as a labeller: what evaluation and the cascade score chunks with."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import task
from prefect.context import TaskRunContext

from upscway.settings import TeacherSettings
from upscway.storage import annotations as annotation_repo
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.tasks.annotate.taxonomy import TaskDefinition


def as_teacher(model: ModelRecord, base: TeacherSettings) -> TeacherSettings:
    """Teacher settings that run a registered student, its answers stored as `model:<id>`: how a
    stage teaches the next one and how evaluation fills a student-teacher's missing answers.
    A causal LM's adapter is merged into its base once (kept in `<path>/merged`), so two large
    models are never in memory together."""
    local = Path(model.path)
    if model.kind == "causal-lm":
        local = local / "merged"
        if not (local / "config.json").exists():
            from upscway.tasks.distill.causal_lm import merge_adapter

            merge_adapter(model.base_model, model.path, local)
    backend = "encoder" if model.kind == "encoder" else "transformers"
    return base.model_copy(update={"backend": backend, "local_model": local, "annotator": f"model:{model.id}"})


def student_scorer(model: ModelRecord, task_def: TaskDefinition):
    """A `Teacher` for a `models` row: the encoder itself, with the temperature fitted on its
    validation split (calibrated scores for evaluation and the cascade), or a causal LM's
    adapter merged into its base once (kept in `<path>/merged`)."""
    if model.kind == "encoder":
        from upscway.tasks.annotate.encoder_teacher import EncoderTeacher

        return EncoderTeacher(task_def, model.path, annotator_id=f"model:{model.id}", temperature=model.metrics.get("temperature", 1.0))
    from upscway.tasks.annotate.local_teacher import CausalLMTeacher
    from upscway.tasks.distill.causal_lm import merge_adapter

    merged = Path(model.path) / "merged"
    if not (merged / "config.json").exists():
        merge_adapter(model.base_model, model.path, merged)
    teacher = CausalLMTeacher(task_def, merged)
    teacher.annotator_id = f"model:{model.id}"
    return teacher


def _scores_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    digest = hashlib.sha256("\n".join(sorted(parameters["hashes"])).encode()).hexdigest()[:32]
    return f"student-scores-{parameters['model'].id}-{parameters['task_def'].version}-{digest}"


@task(
    name="score-with-student", cache_key_fn=_scores_key, cache_expiration=timedelta(days=2),
    persist_result=True, result_serializer="json",
)
def score_with_student(store: Store, model: ModelRecord, task_def: TaskDefinition, hashes: list[str]) -> dict[str, list[float]]:
    """The student's label distribution for each chunk text, in batched forward passes.

    Cached (key: model, prompt version, the set of texts; results persisted for two days):
    when a tag run fails after scoring, e.g. because the teacher was unreachable for the
    unsure chunks, its rerun reuses the scores instead of running the student over every new
    chunk again. The scores are not stored in the database: only final tags are.
    """
    with store.reader() as conn:
        texts = annotation_repo.texts(conn, hashes)
    ordered = [h for h in hashes if h in texts]
    scores = student_scorer(model, task_def).annotate([texts[h] for h in ordered])
    return {h: a.probs for h, a in zip(ordered, scores)}
