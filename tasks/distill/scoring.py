"""A registered student as a labeller: what evaluation and the cascade score chunks with."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.context import TaskRunContext

from upscway.records import model_annotator
from upscway.settings import TeacherSettings
from upscway.storage import annotations as annotation_rows
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.tasks.distill.folders import loading
from upscway.tasks.distill.kinds import student_kind
from upscway.taxonomy import SoftLabel, TaskDefinition


def as_teacher(model: ModelRecord, base: TeacherSettings) -> TeacherSettings:
    """Teacher settings that run a registered student, its answers stored as `model:<id>`: how a
    stage teaches the next one and how evaluation fills a student-teacher's missing answers.
    A causal LM's adapter is merged into its base once (kept in `<path>/merged`), so two large
    models are never in memory together."""
    kind = student_kind(model.kind)
    return base.model_copy(
        update={
            "backend": kind.teacher_backend,
            "local_model": kind.scoring_folder(model),
            "annotator": model_annotator(model.id),
        }
    )


def student_scorer(model: ModelRecord, task_def: TaskDefinition):
    """A `Teacher` for a `models` row: an encoder with the temperature fitted on its validation
    split (calibrated scores for evaluation and the cascade), or a causal LM's merged folder.
    Files that cannot be loaded are a ModelFilesError naming the model and the folder."""
    kind = student_kind(model.kind)
    folder = kind.scoring_folder(model)
    if kind.calibrated:
        from upscway.tasks.annotate.encoder_teacher import EncoderTeacher

        temperature = model.metrics.temperature
        with loading(model, folder):
            return EncoderTeacher(
                task_def,
                folder,
                annotator_id=model_annotator(model.id),
                temperature=1.0 if temperature is None else temperature,
            )
    from upscway.tasks.annotate.local_teacher import CausalLMTeacher

    with loading(model, folder):
        teacher = CausalLMTeacher(task_def, folder)
    teacher.annotator_id = model_annotator(model.id)
    return teacher


def _scores_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    digest = hashlib.sha256("\n".join(sorted(parameters["hashes"])).encode()).hexdigest()[:32]
    return f"student-scores-{parameters['model'].id}-{parameters['task_def'].version}-{digest}"


@task(
    name="score-with-student",
    cache_key_fn=_scores_key,
    cache_expiration=timedelta(days=2),
    persist_result=True,
    result_serializer="json",
)
def score_with_student(
    store: Store,
    model: ModelRecord,
    task_def: TaskDefinition,
    hashes: list[str],
) -> dict[str, list[float] | None]:
    """The student's label distribution for each chunk text, in batched forward passes; None
    where the scorer refused it (NaN or infinite scores are no distribution): the tag stage
    routes such a chunk to the teacher, and its audit judges the student broken.

    Cached (key: model, prompt version, the set of texts; results persisted for two days):
    when a tag run fails after scoring, e.g. because the teacher was unreachable for the
    unsure chunks, its rerun reuses the scores instead of running the student over every new
    chunk again. The scores are not stored in the database: only final tags are.
    """
    with store.reader() as conn:
        texts = annotation_rows.texts(conn, hashes)
    ordered = [h for h in hashes if h in texts]
    scores = student_scorer(model, task_def).annotate([texts[h] for h in ordered])
    refused = [a.reason for a in scores if not isinstance(a, SoftLabel)]
    if refused:
        get_run_logger().warning(
            "the student's scores were refused on %d of %d texts: %s", len(refused), len(scores), refused[0]
        )
    return {h: a.probs if isinstance(a, SoftLabel) else None for h, a in zip(ordered, scores)}
