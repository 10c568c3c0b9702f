"""The tag stage's store side: what is untagged, with which production student and threshold,
and the final tags."""

from __future__ import annotations

from prefect import task

from upscway.records import PRODUCTION, Tag
from upscway.storage import models as model_rows
from upscway.storage import tags as tag_rows
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.storage.tags import ChunkRef
from upscway.tasks.annotate.taxonomy import TaskDefinition
from upscway.tasks.limits import writer_slot
from upscway.tasks.tag.routing import DEFAULT_THRESHOLD


def untagged_and_production(
    store: Store, task_def: TaskDefinition, since: str | None, limit: int | None, configured: float | None
) -> tuple[list[ChunkRef], ModelRecord | None, float]:
    """(chunk id, text hash) of chunks without a tag, the production model's row (None before
    any promotion), and the confidence threshold to route with: `configured` when set
    (`cascade.confidence_threshold`), else the one the model's cascade was certified at when
    it was promoted, else DEFAULT_THRESHOLD."""
    with store.reader() as conn:
        chunks = tag_rows.untagged(conn, task_def.name, since, limit)
        model_id = model_rows.holder(conn, PRODUCTION)
        model = model_rows.get(conn, model_id) if model_id else None
        validated = model_rows.validated_threshold(conn, PRODUCTION, model_id) if model_id else None
    threshold = next((t for t in (configured, validated) if t is not None), DEFAULT_THRESHOLD)
    return chunks, model, threshold


def mean_cost(store: Store, annotator: str) -> float:
    """The annotator's mean cost per stored answer (what each offloaded chunk saves)."""
    with store.reader() as conn:
        return tag_rows.mean_cost(conn, annotator)


@task(name="store-tags")
def store_tags(store: Store, task: str, tags: list[Tag], run_id: str) -> None:
    with writer_slot(), store.transaction() as conn:
        tag_rows.insert(conn, task, tags, run_id)
