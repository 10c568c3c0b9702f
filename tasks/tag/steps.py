"""The tag stage's store side: what is untagged, with which production student and threshold
(and whether a fallback holds it), and the night's tags, audit and live bound."""

from __future__ import annotations

from prefect import task

from upscway.records import PRODUCTION, Tag
from upscway.storage import audits as audit_rows
from upscway.storage import models as model_rows
from upscway.storage import tags as tag_rows
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.storage.tags import ChunkRef
from upscway.tasks.annotate.taxonomy import TaskDefinition
from upscway.tasks.limits import writer_slot
from upscway.tasks.tag.audit import Night
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


def fallback_and_night(store: Store, model: ModelRecord | None) -> tuple[audit_rows.Fallback | None, int]:
    """The production model's active fallback (None: it may offload) and tonight's number
    among its nights since it was promoted (1: the first)."""
    if model is None:
        return None, 0
    with store.reader() as conn:
        return audit_rows.active_fallback(conn, model.id), audit_rows.nights_since_promotion(conn, model.id) + 1


@task(name="store-tags")
def store_tags(
    store: Store, task: str, tags: list[Tag], run_id: str, model_id: str | None = None, audit: Night | None = None,
    figures: dict | None = None,
) -> None:
    """The night's tags, and with a production student its audit, live bound and any new
    fallback, in one transaction."""
    with writer_slot(), store.transaction() as conn:
        tag_rows.insert(conn, task, tags, run_id)
        if model_id and audit:
            audit_rows.insert_audits(conn, run_id, model_id, audit.audit_rate, audit.audited)
            audit_rows.insert_night(conn, run_id, model_id, figures)
            if audit.broken:
                audit_rows.record_fallback(conn, model_id, run_id, audit.broken, figures)
