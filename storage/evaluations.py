"""Evaluations: the gold chunks of a split, the teacher's stored answers on them, results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from upscway.storage.statements import sql


@dataclass(frozen=True)
class GoldChunk:
    chunk_id: str
    article_id: str
    text: str
    text_hash: str
    label: str


@dataclass(frozen=True)
class Evaluation:
    """A stored evaluation: both models' metrics, the paired comparison and the cascade."""

    id: str
    student: dict[str, Any]
    teacher: dict[str, Any]
    paired: dict[str, Any]
    cascade: dict[str, Any] | None = None

    @property
    def result(self) -> dict[str, Any]:
        """The shape the evaluation produces, which the gate and the report read."""
        return {"student": self.student, "teacher": self.teacher, "paired": self.paired, "cascade": self.cascade}


def gold_chunks(conn: duckdb.DuckDBPyConnection, task: str) -> list[GoldChunk]:
    """Every gold-labelled chunk with its current gold label."""
    return [GoldChunk(*row) for row in conn.execute(sql("evaluations", "gold_chunks"), [task]).fetchall()]


def insert(conn: duckdb.DuckDBPyConnection, evaluation_id: str, model_id: str, teacher: str, split: str, result: dict, run_id: str) -> None:
    conn.execute(sql("evaluations", "insert"), [
        evaluation_id, model_id, teacher, split, result["paired"]["n"], json.dumps(result["student"]),
        json.dumps(result["teacher"]), json.dumps(result["paired"]), json.dumps(result.get("cascade")), run_id,
    ])


def latest_for_model(conn: duckdb.DuckDBPyConnection, model_id: str) -> Evaluation | None:
    row = conn.execute(sql("evaluations", "latest_for_model"), [model_id]).fetchone()
    if row is None:
        return None
    evaluation_id, n, student, teacher, paired, cascade = row
    return Evaluation(evaluation_id, json.loads(student), json.loads(teacher), {**json.loads(paired), "n": n}, json.loads(cascade or "null"))


def record_decision(conn: duckdb.DuckDBPyConnection, model_id: str, evaluation_id: str, decision, forced: bool, reason: str | None) -> None:
    criteria = [
        {"name": c.name, "value": c.value, "interval": c.interval, "threshold": c.threshold, "comparison": c.comparison, "passed": c.passed}
        for c in decision.criteria
    ]
    conn.execute(sql("evaluations", "record_decision"),
                 [model_id, evaluation_id, decision.verdict, json.dumps(criteria), json.dumps(list(decision.reasons)), forced, reason])
