"""Evaluation as steps: the gold chunks of a split, the candidate scored on them (its speed and
size measured), the paired comparison with the teacher, and the stored result with its report."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from upscway.errors import InputError
from upscway.results import Decision, PairedResult
from upscway.settings import DistillSettings, GateSettings
from upscway.storage import evaluations as evaluation_rows
from upscway.storage.layout import DataLayout
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.tasks.annotate.taxonomy import TaskDefinition
from upscway.tasks.distill.calibration import uncalibrated
from upscway.tasks.distill.dataset import split_of
from upscway.tasks.distill.scoring import student_scorer
from upscway.tasks.evaluate.gate import decide
from upscway.tasks.evaluate.metrics import calibration
from upscway.tasks.evaluate.paired import evaluate_pair
from upscway.tasks.evaluate.report import artifact_markdown, key_findings, write_report


@dataclass(frozen=True)
class GoldSplit:
    chunk_ids: list[str]
    texts: list[str]
    hashes: list[str]
    gold: list[int]


def gold_of_split(store: Store, task_def: TaskDefinition, split: str, distill: DistillSettings) -> GoldSplit:
    """The gold chunks of articles in `split` (the distill flow never trains on `eval`)."""
    with store.reader() as conn:
        chunks = [c for c in evaluation_rows.gold_chunks(conn, task_def.name)
                  if split_of(c.article_id, distill.eval_fraction, distill.validation_fraction) == split]
    if not chunks:
        raise InputError(f"no gold chunks in split {split!r}: import gold labels first (upscway gold import)")
    return GoldSplit([c.chunk_id for c in chunks], [c.text for c in chunks], [c.text_hash for c in chunks], [task_def.index(c.label) for c in chunks])


def teacher_on_gold(answers: dict[str, list[float]], gold: GoldSplit, teacher: str) -> list[list[float]]:
    """The teacher's answers in the gold split's order; an InputError when any is missing."""
    missing = len(set(gold.hashes) - set(answers))
    if missing:
        raise InputError(f"teacher {teacher} could not answer {missing} gold chunks (unreachable?); see the failures table")
    return [answers[h] for h in gold.hashes]


def compare(
    model: ModelRecord, task_def: TaskDefinition, gold: GoldSplit, teacher_probs: list[list[float]], confidence: float
) -> tuple[PairedResult, list]:
    """The candidate scored on the gold chunks and paired with the teacher (both models'
    metrics, agreement, McNemar, intervals, the non-inferiority bound at `confidence`), with its
    calibration, speed and size; and the candidate's probabilities."""
    scorer = student_scorer(model, task_def)
    started = time.perf_counter()
    student = [a.probs for a in scorer.annotate(gold.texts)]
    seconds = time.perf_counter() - started
    result = evaluate_pair(student, teacher_probs, gold.gold, len(task_def.labels), task_def.not_relevant_index, confidence=confidence)
    measured = {
        "latency_ms_per_chunk": 1000 * seconds / len(gold.texts), "chunks_per_s": len(gold.texts) / seconds,
        "parameters": sum(p.numel() for p in scorer.model.parameters()),
        "size_on_disk_mb": round(sum(f.stat().st_size for f in Path(model.path).glob("*") if f.is_file()) / 1e6, 2),
    }
    temperature = model.metrics.get("temperature")
    if temperature:  # the scores are calibrated; what they were before, for the report
        measured.update(temperature=temperature, ece_before_scaling=calibration(uncalibrated(student, temperature), gold.gold)["ece"])
    return result.model_copy(update={"student": result.student.model_copy(update=measured)}), student


def record_evaluation(
    store: Store, layout: DataLayout, run_id: str, model: ModelRecord, teacher: str, split: str, task_def: TaskDefinition,
    gold: GoldSplit, teacher_probs: list, result: PairedResult, student_probs: list, gate: GateSettings,
) -> tuple[str, Decision, dict[str, Path]]:
    """Store the evaluation, decide with the gate, write the report and publish it as Prefect
    artifacts; returns (evaluation id, decision, report files)."""
    evaluation_id = uuid.uuid4().hex[:12]
    with store.transaction() as conn:
        evaluation_rows.insert(conn, evaluation_id, model.id, teacher, split, result, run_id)
    decision = decide(result, gate)
    report = write_report(
        layout.reports / evaluation_id, title=f"{model.id} against {teacher}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC (evaluation {evaluation_id})", model=model, teacher=teacher,
        names=task_def.names, result=result, student_probs=student_probs, teacher_probs=teacher_probs, gold=gold.gold, decision=decision,
    )
    create_markdown_artifact(artifact_markdown(report), key=f"evaluation-{evaluation_id}", description=f"evaluation of {model.id}")
    create_table_artifact(key_findings(result), description=f"key findings, {model.id} vs {teacher}")
    return evaluation_id, decision, report


def evaluation_summary(evaluation_id: str, model: str, teacher: str, result: PairedResult, decision: Decision, report: dict) -> dict:
    s, t, p = result.student, result.teacher, result.paired
    return {
        "evaluation": evaluation_id, "model": model, "teacher": teacher, "gold_chunks": p.n,
        "accuracy": s.accuracy, "teacher_accuracy": t.accuracy, "relevance_accuracy": s.relevance_accuracy,
        "precision": s.precision, "recall": s.recall, "gs_accuracy": s.gs_accuracy,
        "agreement_with_teacher": p.agreement_top1, "mcnemar_p": p.mcnemar.p_value,
        "gate_verdict": decision.verdict.value, "report": str(report["markdown"]),
    }
