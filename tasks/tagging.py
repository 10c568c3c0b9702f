"""The tag stage around the cascade: what is untagged, the production student's scores, the
teacher's answers for what it is unsure of (asked only where none is stored), and the tags."""

from __future__ import annotations

from prefect import task

from upscway.records import PRODUCTION
from upscway.settings import TeacherSettings
from upscway.storage import annotations as annotation_repo
from upscway.storage import models as registry
from upscway.storage import tags as repo
from upscway.storage.store import Store
from upscway.tasks.annotate.steps import annotate_pending, shared_teacher
from upscway.tasks.annotate.taxonomy import TaskDefinition
from upscway.tasks.cascade import DEFAULT_THRESHOLD, Tag
from upscway.tasks.limits import writer_slot


def untagged_and_production(store: Store, task_def: TaskDefinition, since: str | None, limit: int | None, configured: float | None):
    """(chunk id, text hash) of chunks without a tag, the production model's row (None before
    any promotion), and the confidence threshold to route with: `configured` when set
    (`cascade.confidence_threshold`), else the one the model's cascade was validated at when
    it was promoted, else DEFAULT_THRESHOLD."""
    with store.reader() as conn:
        chunks = repo.untagged(conn, task_def.name, since, limit)
        model_id = registry.holder(conn, PRODUCTION)
        model = registry.get(conn, model_id) if model_id else None
        validated = registry.validated_threshold(conn, PRODUCTION, model_id) if model_id else None
    threshold = next((t for t in (configured, validated) if t is not None), DEFAULT_THRESHOLD)
    return chunks, model, threshold


def teacher_answers(
    store: Store, run_id: str, settings: TeacherSettings, task_def: TaskDefinition, unsure: set[str], hashes: list[str]
) -> tuple[str, dict[str, list[float]], int, float]:
    """Ask the teacher about the unsure texts it has not answered; return (its annotator id,
    its stored answers for `hashes`, requests made, its mean cost per answer)."""
    teacher_id = shared_teacher(task_def, settings).annotator_id
    with store.reader() as conn:
        answered = annotation_repo.answers(conn, teacher_id, task_def.version, sorted(unsure))
    to_ask = sorted(unsure - set(answered))
    if to_ask:
        annotate_pending(store, run_id, settings, task_def, hashes=to_ask)
    with store.reader() as conn:
        return teacher_id, annotation_repo.answers(conn, teacher_id, task_def.version, hashes), len(to_ask), repo.mean_cost(conn, teacher_id)


@task(name="store-tags")
def store_tags(store: Store, task: str, tags: list[Tag], run_id: str) -> None:
    with writer_slot(), store.transaction() as conn:
        repo.insert(conn, task, tags, run_id)
