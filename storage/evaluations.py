"""Evaluations: the gold chunks of a split, the teacher's stored answers on them, results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb

from upscway.results import Decision, PairedResult
from upscway.storage.statements import sql


@dataclass(frozen=True)
class GoldChunk:
    chunk_id: str
    article_id: str
    text: str
    text_hash: str
    label: str
    sampling: str | None = None  # how the chunk came to be reviewed (migration 010); random gold calibrates


@dataclass(frozen=True)
class HeldOut:
    """An annotator's answer on a held-out news chunk (see the `held_out_answers` statement)."""

    article_id: str
    text_hash: str
    text: str
    probs: list[float]
    answered_at: datetime


@dataclass(frozen=True)
class Evaluation:
    """A stored evaluation: both models' metrics, the paired comparison and the cascade."""

    id: str
    result: PairedResult


def gold_chunks(conn: duckdb.DuckDBPyConnection, task: str) -> list[GoldChunk]:
    """Every gold-labelled chunk with its current gold label."""
    return [GoldChunk(*row) for row in conn.execute(sql("evaluations", "gold_chunks"), [task]).fetchall()]


def held_out_answers(conn: duckdb.DuckDBPyConnection, annotator: str, version: str, gold_source: str) -> list[HeldOut]:
    """`annotator`'s answers on news chunks no model trained or validated on, that no cascade
    selected; `gold_source` is the source of the gold paragraphs written for review."""
    rows = conn.execute(
        sql("evaluations", "held_out_answers"), {"annotator": annotator, "version": version, "gold_source": gold_source}
    )
    return [HeldOut(*row) for row in rows.fetchall()]


def calibration_answers(conn: duckdb.DuckDBPyConnection, annotator: str, version: str) -> list[HeldOut]:
    """`annotator`'s answers on the chunks of the articles drawn for calibration, without texts
    a model trained on."""
    rows = conn.execute(sql("evaluations", "calibration_answers"), {"annotator": annotator, "version": version})
    return [HeldOut(*row) for row in rows.fetchall()]


def calibration_articles(conn: duckdb.DuckDBPyConnection) -> set[str]:
    """Every article ever drawn for calibration."""
    return {row[0] for row in conn.execute(sql("evaluations", "calibration_articles")).fetchall()}


def certified_models(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, datetime, float | None, float | None]]:
    """(model, when, ε, confidence) of every evaluation with a certificate, oldest first."""
    found = []
    for model_id, created_at, cascade in conn.execute(sql("evaluations", "certified_models")).fetchall():
        stored = json.loads(cascade) if isinstance(cascade, str) else cascade
        certificate = (stored or {}).get("certificate") or {}
        found.append((model_id, created_at, certificate.get("epsilon"), (stored or {}).get("confidence")))
    return found


def insert(
    conn: duckdb.DuckDBPyConnection,
    evaluation_id: str,
    model_id: str,
    teacher: str,
    split: str,
    result: PairedResult,
    run_id: str,
) -> None:
    row = result.model_dump(mode="json")
    conn.execute(
        sql("evaluations", "insert"),
        [
            evaluation_id,
            model_id,
            teacher,
            split,
            result.paired.n,
            *(json.dumps(row[part]) for part in ("student", "teacher", "paired", "cascade")),
            run_id,
        ],
    )


def latest_for_model(conn: duckdb.DuckDBPyConnection, model_id: str, teacher: str | None = None) -> Evaluation | None:
    """The model's newest evaluation (against `teacher`, when given), read into the current
    records whatever version stored it."""
    row = conn.execute(sql("evaluations", "latest_for_model"), {"model": model_id, "teacher": teacher}).fetchone()
    if row is None:
        return None
    evaluation_id, n, student, teacher, paired, cascade = row
    return Evaluation(
        evaluation_id,
        PairedResult.model_validate(
            {
                "student": json.loads(student),
                "teacher": json.loads(teacher),
                "paired": {**json.loads(paired), "n": n},
                "cascade": json.loads(cascade or "null"),
            }
        ),
    )


def record_decision(
    conn: duckdb.DuckDBPyConnection,
    model_id: str,
    evaluation_id: str,
    decision: Decision,
    forced: bool,
    reason: str | None,
) -> None:
    criteria = [
        {
            "name": c.name,
            "value": c.value,
            "interval": c.interval,
            "threshold": c.threshold,
            "comparison": c.comparison,
            "passed": c.passed,
        }
        for c in decision.criteria
    ]
    c = decision.certificate
    certified = (
        [c.epsilon, decision.risk_level, c.threshold, c.upper_bound, c.offload, c.loss, c.n] if c else [None] * 7
    )
    conn.execute(
        sql("evaluations", "record_decision"),
        [
            model_id,
            evaluation_id,
            decision.verdict.value,
            json.dumps(criteria),
            json.dumps(list(decision.reasons)),
            forced,
            reason,
            *certified,
            decision.sentence or None,
        ],
    )
