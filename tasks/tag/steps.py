"""The tag stage's store side: what is untagged, with which production student and threshold
(and whether a fallback holds it), the night scored (`ScoredChunk`s, carried to the stored
tags) and routed (the teacher's answers it needs, read once and kept with the chunks, the
audit judged before anything is stored), and the night's tags, audit and live bound."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from prefect import get_run_logger, task

from upscway import progress
from upscway.records import PRODUCTION, ChunkRef, ScoredChunk, Tag, model_annotator
from upscway.settings import Settings
from upscway.storage import audits as audit_rows
from upscway.storage import models as model_rows
from upscway.storage import tags as tag_rows
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.tasks.annotate.teacher import Teachers
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.answers import answers_of, ensure_answers
from upscway.tasks.cascade.audit import (
    Night,
    Tonight,
    audit_rate_tonight,
    audit_sample,
    calibration_draw,
    draw_seed,
    judge_night,
    shifted,
)
from upscway.tasks.cascade.evalues import Detector
from upscway.tasks.cascade.policy import CascadePolicy
from upscway.tasks.cascade.routing import (
    DEFAULT_THRESHOLD,
    drift,
    final_tags,
    for_teacher,
    scored_chunks,
    student_scores,
    texts,
    with_answers,
)
from upscway.tasks.distill.scoring import score_with_student
from upscway.tasks.limits import writer_slot
from upscway.tasks.tag.languages import student_hashes
from upscway.taxonomy import TaskDefinition


def untagged_and_production(
    store: Store,
    task_def: TaskDefinition,
    since: str | None,
    limit: int | None,
    configured: float | None,
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


def fallback_and_night(store: Store, model: ModelRecord | None) -> tuple[audit_rows.Fallback | None, Detector]:
    """The production model's active fallback (None: it may offload) and its live detector
    after its nights since it was promoted (`Detector.night`: how many; a fresh one for a new
    production model)."""
    if model is None:
        return None, Detector()
    with store.reader() as conn:
        nights, log_value = audit_rows.nights_since_promotion(conn, model.id)
        holding = audit_rows.active_fallback(conn, model.id)
    return holding, Detector(night=nights, log_value=-math.inf if log_value is None else log_value)


def score_night(
    store: Store,
    model: ModelRecord | None,
    task_def: TaskDefinition,
    chunks: Sequence[ChunkRef],
    served: Sequence[str],
) -> list[ScoredChunk]:
    """Tonight's chunks scored: the production student's label distribution on each text it
    may decide (none in a language it does not serve, `served`), each text once, in batched
    forward passes; with no student (None), nothing is scored and the teacher decides all."""
    student, hashes = {}, student_hashes(chunks, served)
    if model and hashes:
        progress.report("tag: student", 0, len(hashes))
        student = score_with_student(store, model, task_def, hashes)
    return scored_chunks(chunks, student)


@dataclass(frozen=True)
class NightInput:
    """What a tag night is routed with: its run, its chunks scored by the production student
    (`model`; None before any promotion, or when its folder is unusable), the policy it routes
    by (at tonight's threshold), the fallback that holds the student (None: it may offload),
    and the live detector after the student's nights before tonight."""

    run_id: str
    chunks: list[ScoredChunk]
    model: ModelRecord | None
    policy: CascadePolicy
    holding: audit_rows.Fallback | None
    detector: Detector


@dataclass(frozen=True)
class Routed:
    """A night routed: its tags, its chunks with the teacher's answers on their texts (where
    it has one), the requests made (for the cascade, for the audit and for the calibration
    draw), the calibration articles drawn (with their inclusion probability), the student's
    drift figures and the audit judged (None without a production student)."""

    tags: list[Tag]
    chunks: list[ScoredChunk]
    requests: int
    audit_requests: int
    drift: dict | None
    judged: Night | None
    calibration: list[str]
    calibration_rate: float
    calibration_requests: int = 0

    @property
    def fallback(self) -> bool:
        return self.judged is not None and self.judged.fallback

    @property
    def figures(self) -> dict | None:
        """The audit's figures as `cascade_nights` stores them (None without an audit)."""
        if self.judged is None:
            return None
        return self.judged.figures(self.requests, self.audit_requests, self.calibration_requests)


def route_night(
    store: Store,
    night: NightInput,
    settings: Settings,
    task_def: TaskDefinition,
    resources: Teachers,
) -> Routed:
    """The calibration draw's articles are answered and decided by the teacher on every chunk;
    the teacher answers what the student is unsure of and the audited share of what it decided
    (a larger share when the student's scores shifted: `audit.shifted`);
    tonight's audit is judged; when it breaks the certificate (or the student's scores are not
    finite, or a fallback holds, or tonight's loss is not shown to be at most ε), the teacher
    answers and decides every chunk. Nothing is stored here but the answers; each is read from
    the store once, into the chunks."""
    cascade, teacher = settings.cascade, settings.teacher
    chunks, model, holding = night.chunks, night.model, night.holding
    hashes = texts(chunks)
    seed = draw_seed(cascade.draw_seed, night.run_id, hashes)
    drawn = calibration_draw([c.article_id for c in chunks if c.article_id], cascade.calibration_rate, seed)
    calibrating = {c.text_hash for c in chunks if c.article_id in drawn}
    unsure = for_teacher(chunks, night.policy) | calibrating
    decided = sorted(set(hashes) - unsure)
    moved = (
        drift(student_scores(chunks), *model.metrics.reference(), night.policy.threshold, cascade.drift_tolerance)
        if model
        else None
    )
    if moved and moved["warning"]:
        get_run_logger().warning(moved["warning"])
    shift = shifted(moved, cascade.drift_limit)
    audit_rate = audit_rate_tonight(cascade, shift)
    audited = set() if holding else audit_sample(decided, audit_rate, seed)
    teacher_id = annotator_of(teacher)

    def ask(which) -> int:
        return ensure_answers(store, night.run_id, teacher_id, sorted(which), teacher, task_def, resources)

    def answers(which: Sequence[str]) -> dict[str, list[float]]:
        return answers_of(store, teacher_id, task_def.version, which)

    calibration_requests, requests, audit_requests = ask(calibrating), ask(unsure - calibrating), ask(audited)
    chunks = with_answers(chunks, answers(hashes))
    scored = any(c.scored for c in chunks)
    tonight = Tonight(night.detector.night + 1, night.detector, decided, audited, audit_rate, len(drawn), shift)
    judged = judge_night(tonight, chunks, task_def.names, cascade, holding is not None) if scored else None
    if judged and judged.fallback:  # tonight the teacher decides every chunk
        why = judged.broken or judged.withheld or f"held since {holding.since}: {holding.reason}"
        get_run_logger().warning("%s: %s", "withheld" if judged.withheld else "fallback", why)
        unsure, rest = set(hashes), sorted(set(decided) - audited)
        requests += ask(rest)
        chunks = with_answers(chunks, answers(rest))  # those read above stay with the chunks: only the new are read
    student_annotator = model_annotator(model.id) if model else None
    tags = final_tags(chunks, unsure, task_def.names, student_annotator, teacher_id)
    return Routed(
        tags,
        chunks,
        requests,
        audit_requests,
        moved,
        judged,
        sorted(drawn),
        cascade.calibration_rate,
        calibration_requests,
    )


@task(name="store-tags")
def store_tags(store: Store, task_name: str, run_id: str, routed: Routed, model_id: str | None = None) -> None:
    """The night's tags for the labelling task `task_name`, its calibration draw, and with a
    production student (`model_id`) its audit, live check and any new fallback, in one
    transaction."""
    audit, figures = routed.judged, routed.figures
    with writer_slot(), store.transaction() as conn:
        tag_rows.insert(conn, task_name, routed.tags, run_id)
        audit_rows.insert_calibration_draws(conn, run_id, model_id, routed.calibration, routed.calibration_rate)
        if model_id and audit:
            audit_rows.insert_audits(conn, run_id, model_id, audit.audit_rate, audit.audited)
            audit_rows.insert_night(conn, run_id, model_id, figures)
            if audit.broken:
                audit_rows.record_fallback(conn, model_id, run_id, audit.broken, figures)
