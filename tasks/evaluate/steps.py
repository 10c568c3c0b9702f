"""Evaluation as steps: the gold chunks of a split (what is reported on, and the random gold
that calibrates the certificate), the held-out teacher answers, the candidate scored on them
(its speed and size measured), the paired comparison with the teacher, and the stored result
with its report."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from upscway.errors import InputError
from upscway.results import Decision, PairedResult
from upscway.settings import DistillSettings, GateSettings
from upscway.storage import audits as audit_rows
from upscway.storage import evaluations as evaluation_rows
from upscway.storage.evaluations import HeldOut
from upscway.storage.gold import GOLD_SOURCE
from upscway.storage.layout import DataLayout
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.summaries import EvaluateSummary
from upscway.tasks.cascade.certificate import Sample
from upscway.tasks.distill.calibration import uncalibrated
from upscway.tasks.distill.dataset import split_of
from upscway.tasks.distill.quantize import folder_size_mb, parameter_count
from upscway.tasks.distill.scoring import student_scorer
from upscway.tasks.evaluate.gate import decide
from upscway.tasks.evaluate.paired import evaluate_pair
from upscway.tasks.evaluate.report import Evaluated, artifact_markdown, key_findings, write_report
from upscway.tasks.metrics import calibration
from upscway.taxonomy import TaskDefinition


@dataclass(frozen=True)
class GoldSplit:
    chunk_ids: list[str]
    texts: list[str]
    hashes: list[str]
    gold: list[int]
    articles: list[str] = field(default_factory=list)


def in_calibration(article_id: str, fraction: float) -> bool:
    """Whether an evaluation-split article's random gold calibrates the certificate (a second
    hash of the article id, independent of the split's)."""
    return int(hashlib.sha256(f"upscway-calibration:{article_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def _gold_split(chunks, task_def: TaskDefinition) -> GoldSplit:
    return GoldSplit(
        [c.chunk_id for c in chunks],
        [c.text for c in chunks],
        [c.text_hash for c in chunks],
        [task_def.index(c.label) for c in chunks],
        [c.article_id for c in chunks],
    )


def gold_of_split(
    store: Store, task_def: TaskDefinition, split: str, distill: DistillSettings, calibration_fraction: float
) -> tuple[GoldSplit, GoldSplit]:
    """The gold of two kinds: what the report and the seed criteria are computed on (gold chunks
    of articles in `split`; the distill flow never trains on `eval`), and the gold sampled at
    random (`gold export --strategy random|audit`) in the articles that calibrate the
    certificate: those of the nightly calibration draw (never trained on, in any split), and,
    for gold labelled before the draws, evaluation-split articles chosen by `in_calibration`.
    Gold sampled otherwise (uncertainty, disagreement, written for review, unknown) is never a
    sample of the news, so it is only ever reported on."""
    with store.reader() as conn:
        every = evaluation_rows.gold_chunks(conn, task_def.name)
        drawn = evaluation_rows.calibration_articles(conn)

    def in_split(c) -> bool:
        return split_of(c.article_id, distill.eval_fraction, distill.validation_fraction) == split

    def calibrates(c) -> bool:
        if c.article_id in drawn:
            return c.sampling in ("random", "audit")
        return c.sampling == "random" and in_split(c) and in_calibration(c.article_id, calibration_fraction)

    chunks = [c for c in every if calibrates(c) or in_split(c)]
    calibrating = [c for c in chunks if calibrates(c)]
    reported = [c for c in chunks if not calibrates(c)]
    if not reported:
        raise InputError(
            f"no gold chunks to report on in split {split!r}: import gold labels first (upscway gold import)"
        )
    return _gold_split(reported, task_def), _gold_split(calibrating, task_def)


def held_out(
    store: Store,
    annotator: str,
    version: str,
    split: str,
    distill: DistillSettings,
    reported: GoldSplit,
    after: datetime | None = None,
) -> tuple[list[HeldOut], datetime | None]:
    """The consistency certificate's sample: `annotator`'s answers on the chunks of the nightly
    calibration draws (any split: never trained on), and on news chunks of `split` that no model
    trained on and no cascade selected (the nights before any cascade), without the reported gold
    chunks (so the report's figures at the certified threshold are on chunks the certificate did
    not see). While the production cascade is held by a fallback, only answers given since it
    began: a student that replaces a broken certificate is certified on the news that broke it.
    With `after`, only answers given after it (a model evaluated before at another ε or δ is
    certified again only on data gathered since). Returns the answers and the fallback's start
    (None: no fallback holds)."""
    exclude = set(reported.hashes)
    with store.reader() as conn:
        drawn = evaluation_rows.calibration_answers(conn, annotator, version)
        answers = evaluation_rows.held_out_answers(conn, annotator, version, GOLD_SOURCE)
        since = audit_rows.production_fallback_since(conn)
    in_split = [
        a for a in answers if split_of(a.article_id, distill.eval_fraction, distill.validation_fraction) == split
    ]
    merged = {a.text_hash: a for a in in_split} | {a.text_hash: a for a in drawn}

    def fresh(a: HeldOut) -> bool:
        return (since is None or a.answered_at >= since) and (after is None or a.answered_at > after)

    return [a for _, a in sorted(merged.items()) if a.text_hash not in exclude and fresh(a)], since


def candidate_number(store: Store, model_id: str, epsilon: float, delta: float) -> tuple[int, datetime | None]:
    """Which candidate `model_id` is among the models ever certified at (ε, δ) (1: the first; a
    model tested before keeps its number, and its e-values stay valid as its sample grows), and
    when it was last evaluated at another ε or δ (None: never), after which its data must be
    gathered: ε and δ are fixed before the data."""
    with store.reader() as conn:
        found = evaluation_rows.certified_models(conn)
    order: list[str] = []
    other = None
    for model, at, stored_epsilon, confidence in found:
        same = stored_epsilon == epsilon and confidence is not None and abs(1 - confidence - delta) < 1e-9
        if same and model not in order:
            order.append(model)
        if not same and model == model_id and stored_epsilon is not None:
            other = at
    number = order.index(model_id) + 1 if model_id in order else len(order) + 1
    return number, other


def teacher_on_gold(answers: dict[str, list[float]], gold: GoldSplit, teacher: str) -> list[list[float]]:
    """The teacher's answers in the gold split's order; an InputError when any is missing."""
    missing = len(set(gold.hashes) - set(answers))
    if missing:
        raise InputError(
            f"teacher {teacher} could not answer {missing} gold chunks (unreachable?); see the failures table"
        )
    return [answers[h] for h in gold.hashes]


def compare(
    model: ModelRecord,
    task_def: TaskDefinition,
    gold: GoldSplit,
    teacher_probs: list[list[float]],
    confidence: float,
    scorer=None,
) -> tuple[PairedResult, list]:
    """The candidate scored on the gold chunks and paired with the teacher (both models'
    metrics, agreement, McNemar, intervals, the non-inferiority bound at `confidence`), with its
    calibration, speed and size; and the candidate's probabilities."""
    scorer = scorer or student_scorer(model, task_def)
    started = time.perf_counter()
    student = [a.probs for a in scorer.annotate(gold.texts)]
    seconds = time.perf_counter() - started
    result = evaluate_pair(
        student, teacher_probs, gold.gold, len(task_def.labels), task_def.not_relevant_index, confidence=confidence
    )
    measured = {
        "latency_ms_per_chunk": 1000 * seconds / len(gold.texts),
        "chunks_per_s": len(gold.texts) / seconds,
        "parameters": parameter_count(scorer.model),
        "size_on_disk_mb": folder_size_mb(model.path),
    }
    temperature = model.metrics.temperature
    if temperature:  # the scores are calibrated; what they were before, for the report
        measured.update(
            temperature=temperature,
            ece_before_scaling=calibration(uncalibrated(student, temperature), gold.gold)["ece"],
        )
    paired = result.paired.model_copy(update={"labels": tuple(task_def.names)})
    return result.model_copy(update={"student": result.student.model_copy(update=measured), "paired": paired}), student


def calibration_samples(
    scorer, task_def: TaskDefinition, held: list[HeldOut], random_gold: GoldSplit, teacher_on_random: list[list[float]]
) -> tuple[Sample, Sample | None]:
    """The certificate's samples, scored by the candidate: consistency on the held-out teacher
    answers (the teacher's label is the reference), and accuracy loss on the random gold (gold
    is the reference; only chunks the teacher gets right can be losses). None without random gold."""
    texts = [a.text for a in held] + random_gold.texts
    probs = [a.probs for a in scorer.annotate(texts)] if texts else []
    consistency = Sample(
        probs[: len(held)], [int(np.argmax(a.probs)) for a in held], articles=[a.article_id for a in held]
    )
    if not random_gold.texts:
        return consistency, None
    teacher_right = [int(np.argmax(t)) == g for t, g in zip(teacher_on_random, random_gold.gold)]
    return consistency, Sample(probs[len(held) :], random_gold.gold, teacher_right, random_gold.articles or None)


def record_evaluation(
    store: Store,
    layout: DataLayout,
    run_id: str,
    evaluated: Evaluated,
    task_def: TaskDefinition,
    gate: GateSettings,
) -> tuple[str, Decision, dict[str, Path]]:
    """Store the evaluation, decide with the gate, write the report and publish it as Prefect
    artifacts; returns (evaluation id, decision, report files)."""
    model, teacher, result = evaluated.model, evaluated.teacher, evaluated.result
    evaluation_id = uuid.uuid4().hex[:12]
    with store.transaction() as conn:
        evaluation_rows.insert(conn, evaluation_id, model.id, teacher, evaluated.split, result, run_id)
    decision = decide(result, gate)
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    report = write_report(
        layout.reports / evaluation_id,
        title=f"{model.id} against {teacher}, {when} (evaluation {evaluation_id})",
        evaluated=evaluated,
        names=task_def.names,
        decision=decision,
    )
    create_markdown_artifact(
        artifact_markdown(report), key=f"evaluation-{evaluation_id}", description=f"evaluation of {model.id}"
    )
    create_table_artifact(key_findings(result), description=f"key findings, {model.id} vs {teacher}")
    return evaluation_id, decision, report


def evaluation_summary(
    evaluation_id: str, model: str, teacher: str, result: PairedResult, decision: Decision, report: dict
) -> EvaluateSummary:
    s, t, p = result.student, result.teacher, result.paired
    return EvaluateSummary(
        evaluation=evaluation_id,
        model=model,
        teacher=teacher,
        gold_chunks=p.n,
        accuracy=s.accuracy,
        teacher_accuracy=t.accuracy,
        relevance_accuracy=s.relevance_accuracy,
        precision=s.precision,
        recall=s.recall,
        gs_accuracy=s.gs_accuracy,
        agreement_with_teacher=p.agreement_top1,
        mcnemar_p=p.mcnemar.p_value,
        gate_verdict=decision.verdict.value,
        certificate=decision.sentence,
        **certified_point(decision),
        report=str(report["markdown"]),
    )


def certified_point(decision: Decision) -> dict:
    """The certified threshold and offload (None: nothing certified), for summaries and tables."""
    c = decision.certificate
    return {
        "certified_threshold": c.threshold if c else None,
        "certified_offload": c.offload if c and c.threshold is not None else None,
    }
