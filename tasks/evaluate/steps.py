"""Evaluation and promotion as steps: the gold chunks of a split, the teacher's answers on them
(filled in where this process can run the teacher), the candidate scored beside it, the
stored result and its report, and the gate's decision with the alias move it allows."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from upscway.errors import InputError
from upscway.records import PRODUCTION
from upscway.settings import CascadeSettings, DistillSettings, GateSettings, TeacherSettings
from upscway.storage import annotations as annotation_repo
from upscway.storage import evaluations as repo
from upscway.storage import models as registry
from upscway.storage.evaluations import Evaluation
from upscway.storage.layout import DataLayout
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.tasks.annotate.steps import annotate_pending, shared_teacher
from upscway.tasks.annotate.taxonomy import TaskDefinition
from upscway.tasks.cascade import at_threshold, choose_threshold, operating_curve, routed
from upscway.tasks.distill.calibration import uncalibrated
from upscway.tasks.distill.dataset import split_of
from upscway.tasks.distill.scoring import as_teacher, student_scorer
from upscway.tasks.evaluate.gate import Decision, decide
from upscway.tasks.evaluate.metrics import calibration
from upscway.tasks.evaluate.paired import evaluate_pair
from upscway.tasks.evaluate.report import artifact_markdown, key_findings, write_report
from upscway.tasks.registry import model as registered_model


@dataclass(frozen=True)
class GoldSplit:
    chunk_ids: list[str]
    texts: list[str]
    hashes: list[str]
    gold: list[int]


def gold_of_split(store: Store, task_def: TaskDefinition, split: str, distill: DistillSettings) -> GoldSplit:
    """The gold chunks of articles in `split` (the distill flow never trains on `eval`)."""
    with store.reader() as conn:
        chunks = [c for c in repo.gold_chunks(conn, task_def.name)
                  if split_of(c.article_id, distill.eval_fraction, distill.validation_fraction) == split]
    if not chunks:
        raise InputError(f"no gold chunks in split {split!r}: import gold labels first (upscway gold import)")
    return GoldSplit([c.chunk_id for c in chunks], [c.text for c in chunks], [c.text_hash for c in chunks], [task_def.index(c.label) for c in chunks])


def teacher_answers(
    store: Store, run_id: str, teacher: str, version: str, hashes: list[str], settings: TeacherSettings, task_def: TaskDefinition
) -> dict[str, list[float]]:
    """The teacher's stored answers on `hashes`; missing ones are asked first when this process
    can run that teacher (a registered student, or the profile's own teacher), else an
    InputError says which teacher is missing what."""
    with store.reader() as conn:
        answers = annotation_repo.answers(conn, teacher, version, hashes)
    missing = len(set(hashes)) - len(answers)
    if not missing:
        return answers
    if teacher.startswith("model:"):
        annotate_pending(store, run_id, as_teacher(registered_model(store, teacher.split(":", 1)[1]), settings), task_def)
    elif shared_teacher(task_def, settings).annotator_id == teacher:
        annotate_pending(store, run_id, settings, task_def)
    else:
        raise InputError(
            f"teacher {teacher} has no stored answer for {missing} gold chunks and this profile's teacher is not it: "
            "annotate them with that teacher first (upscway run annotate)"
        )
    with store.reader() as conn:
        answers = annotation_repo.answers(conn, teacher, version, hashes)
    if len(answers) < len(set(hashes)):
        raise InputError(f"teacher {teacher} could not answer {len(set(hashes)) - len(answers)} gold chunks (unreachable?); see the failures table")
    return answers


def compare(
    model: ModelRecord, task_def: TaskDefinition, gold: GoldSplit, teacher: dict[str, list[float]], confidence: float,
    cascade: CascadeSettings,
) -> tuple[dict, list]:
    """The paired result (both models' metrics, agreement, McNemar, intervals, the
    non-inferiority bound at `confidence`), the cascade as deployed (its operating curve, the
    threshold chosen on this gold, the figures at the configured one), the candidate's speed
    and size; and the candidate's probabilities."""
    scorer = student_scorer(model, task_def)
    started = time.perf_counter()
    student = [a.probs for a in scorer.annotate(gold.texts)]
    seconds = time.perf_counter() - started
    teacher_probs = [teacher[h] for h in gold.hashes]
    result = evaluate_pair(student, teacher_probs, gold.gold, len(task_def.labels), confidence=confidence)
    temperature = model.metrics.get("temperature")
    if temperature:  # the scores are calibrated; what they were before, for the report
        result["student"]["temperature"] = temperature
        result["student"]["ece_before_scaling"] = calibration(uncalibrated(student, temperature), gold.gold)["ece"]
    curve = operating_curve(student, teacher_probs, gold.gold, cascade.relevance_band)
    chosen = choose_threshold(curve, result["teacher"]["accuracy"], cascade.accuracy_tolerance)
    if chosen:  # the deployed cascade against the teacher alone, paired like the student
        answers = routed(student, teacher_probs, chosen["threshold"], cascade.relevance_band)
        deployed = evaluate_pair(answers, teacher_probs, gold.gold, len(task_def.labels), confidence=confidence)
        chosen = {**chosen, "lower_bound": deployed["paired"]["noninferiority"]["lower_bound"],
                  "gs_accuracy_per_paper": deployed["student"]["gs_accuracy_per_paper"]}
    result["cascade"] = {
        "tolerance": cascade.accuracy_tolerance, "relevance_band": list(cascade.relevance_band), "curve": curve, "chosen": chosen,
        "configured": None if cascade.confidence_threshold is None else at_threshold(curve, cascade.confidence_threshold),
    }
    path = Path(model.path)
    result["student"].update({
        "latency_ms_per_chunk": 1000 * seconds / len(gold.texts), "chunks_per_s": len(gold.texts) / seconds,
        "parameters": sum(p.numel() for p in scorer.model.parameters()),
        "size_on_disk_mb": round(sum(f.stat().st_size for f in path.glob("*") if f.is_file()) / 1e6, 2),
    })
    return result, student


def record_evaluation(
    store: Store, layout: DataLayout, run_id: str, model: ModelRecord, teacher: str, split: str, task_def: TaskDefinition,
    gold: GoldSplit, teacher_probs: dict, result: dict, student_probs: list, gate: GateSettings,
) -> tuple[str, Decision, dict[str, Path]]:
    """Store the evaluation, decide with the gate, write the report and publish it as Prefect
    artifacts; returns (evaluation id, decision, report files)."""
    evaluation_id = uuid.uuid4().hex[:12]
    with store.transaction() as conn:
        repo.insert(conn, evaluation_id, model.id, teacher, split, result, run_id)
    decision = decide(result, gate)
    report = write_report(
        layout.reports / evaluation_id, title=f"{model.id} against {teacher}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC (evaluation {evaluation_id})", model=model, teacher=teacher,
        names=task_def.names, result=result, student_probs=student_probs, teacher_probs=[teacher_probs[h] for h in gold.hashes],
        gold=gold.gold, decision=decision,
    )
    create_markdown_artifact(artifact_markdown(report), key=f"evaluation-{evaluation_id}", description=f"evaluation of {model.id}")
    create_table_artifact(key_findings(result), description=f"key findings, {model.id} vs {teacher}")
    return evaluation_id, decision, report


def evaluation_summary(evaluation_id: str, model: str, teacher: str, result: dict, decision: Decision, report: dict) -> dict:
    s, t, p = result["student"], result["teacher"], result["paired"]
    return {
        "evaluation": evaluation_id, "model": model, "teacher": teacher, "gold_chunks": p["n"],
        "accuracy": s["accuracy"], "teacher_accuracy": t["accuracy"], "relevance_accuracy": s["relevance_accuracy"],
        "precision": s["precision"], "recall": s["recall"], "gs_accuracy": s["gs_accuracy"],
        "agreement_with_teacher": p["agreement_top1"], "mcnemar_p": p["mcnemar"]["p_value"],
        "gate_verdict": decision.verdict, "report": str(report["markdown"]),
    }


def latest_evaluation(store: Store, model_id: str) -> Evaluation | None:
    with store.reader() as conn:
        return repo.latest_for_model(conn, model_id)


def apply_gate(store: Store, model: str, evaluation: Evaluation, gate: GateSettings, force: bool, reason: str | None) -> dict:
    """Decide on the latest evaluation, record the decision, and move `production` to the model
    on a pass (or when forced, with the reason), all in one transaction."""
    if force and not (reason or "").strip():
        raise InputError("--force needs --reason: a forced promotion is recorded with why")
    decision = decide(evaluation.result, gate)
    moves = decision.verdict == "promote" or force
    forced = force and decision.verdict != "promote"
    with store.transaction() as conn:
        repo.record_decision(conn, model, evaluation.id, decision, forced=forced, reason=reason)
        chosen = (evaluation.result.get("cascade") or {}).get("chosen") or {}
        previous = registry.move_alias(conn, PRODUCTION, model, "promote", reason, chosen.get("threshold")) if moves else None
    return {
        "model": model, "verdict": decision.verdict, "production": model if moves else previous or "unchanged",
        "cascade_threshold": chosen.get("threshold") if moves else None,
        "previous_production": previous, "forced": forced,
        "criteria": {c.name: f"{c.value if c.value is None else round(c.value, 3)} {c.comparison} {c.threshold}: {'pass' if c.passed else 'FAIL'}" for c in decision.criteria},
        "reasons": list(decision.reasons),
    }


def rollback(store: Store, reason: str | None) -> tuple[str, str]:
    """Point `production` back at the model it held before the last promotion: (from, to)."""
    with store.transaction() as conn:
        last = registry.last_promotion(conn, PRODUCTION)
        if last is None or last.previous_id is None:
            raise InputError("no earlier production model to roll back to")
        registry.move_alias(conn, PRODUCTION, last.previous_id, "rollback", reason)
    return last.model_id, last.previous_id
