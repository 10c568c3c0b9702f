"""The tag stage's store side: what is untagged, with which production student and threshold
(and whether a fallback holds it), the night routed (the teacher's answers it needs, the audit
judged before anything is stored), and the night's tags, audit and live bound."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prefect import get_run_logger, task

from upscway.records import PRODUCTION, Tag, model_annotator
from upscway.storage import audits as audit_rows
from upscway.storage import models as model_rows
from upscway.storage import tags as tag_rows
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.settings import Settings
from upscway.storage.tags import ChunkRef
from upscway.taxonomy import TaskDefinition
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.answers import answers_of, ensure_answers
from upscway.tasks.limits import writer_slot
from upscway.tasks.cascade.audit import Night, audit_sample, judge_night
from upscway.tasks.cascade.routing import DEFAULT_THRESHOLD, drift, final_tags, for_teacher, reference_scores


def untagged_and_production(
    store: Store, task_def: TaskDefinition, since: str | None, limit: int | None, configured: float | None,
    served: tuple[str, ...] | None = None,
) -> tuple[list[ChunkRef], ModelRecord | None, float]:
    """(chunk id, text hash, language) of chunks without a tag (with `served`, only those in
    these languages or of unknown language), the production model's row (None before
    any promotion), and the confidence threshold to route with: `configured` when set
    (`cascade.confidence_threshold`), else the one the model's cascade was certified at when
    it was promoted, else DEFAULT_THRESHOLD."""
    with store.reader() as conn:
        chunks = tag_rows.untagged(conn, task_def.name, since, limit, served)
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


@dataclass(frozen=True)
class Routed:
    """A night routed: its tags, the teacher's answers on its texts, the requests made (for the
    cascade and for the audit), the student's drift figures and the audit judged (None without
    a production student)."""

    tags: list[Tag]
    answers: dict[str, list[float]]
    requests: int
    audit_requests: int
    drift: dict | None
    judged: Night | None

    @property
    def fallback(self) -> bool:
        return self.judged is not None and self.judged.fallback


def route_night(
    store: Store, run_id: str, chunks: list[ChunkRef], student: Mapping[str, list[float] | None], model: ModelRecord | None,
    threshold: float, holding: audit_rows.Fallback | None, night: int, settings: Settings, task_def: TaskDefinition,
) -> Routed:
    """The teacher answers what the student is unsure of and the audited share of what it
    decided; tonight's audit is judged; when it breaks the certificate (or the student's scores
    are not finite, or a fallback holds), the teacher answers and decides every chunk. Nothing
    is stored here but the answers."""
    cascade, teacher = settings.cascade, settings.teacher
    hashes = sorted({c.text_hash for c in chunks})
    unsure = for_teacher(hashes, student, threshold, cascade.relevance_band, task_def.not_relevant_index)
    decided = sorted(set(hashes) - unsure)
    audited = set() if holding else audit_sample(decided, cascade.audit_rate, run_id)
    teacher_id = annotator_of(teacher)

    def ask(which) -> int:
        return ensure_answers(store, run_id, teacher_id, sorted(which), teacher, task_def)

    requests, audit_requests = ask(unsure), ask(audited)
    answers = answers_of(store, teacher_id, task_def.version, hashes)
    moved = drift(student, *reference_scores(model.metrics), threshold, cascade.drift_tolerance) if model else None
    if moved and moved["warning"]:
        get_run_logger().warning(moved["warning"])
    judged = judge_night(night, chunks, student, answers, decided, audited, task_def.names, cascade, moved, holding is not None) \
        if student else None
    if judged and judged.fallback:  # tonight the teacher decides every chunk
        get_run_logger().warning("fallback: %s", judged.broken or f"held since {holding.since}: {holding.reason}")
        unsure = set(hashes)
        requests += ask(set(decided) - audited)
        answers = answers_of(store, teacher_id, task_def.version, hashes)
    tags = final_tags(chunks, student, answers, unsure, task_def.names, model_annotator(model.id) if model else None, teacher_id)
    return Routed(tags, answers, requests, audit_requests, moved, judged)


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
