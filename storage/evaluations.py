"""Evaluations: the gold chunks of a split, the teacher's stored answers on them, results."""

from __future__ import annotations

import json

import duckdb
from upscway.storage.statements import sql


def gold_chunks(conn: duckdb.DuckDBPyConnection, task: str) -> list[tuple[str, str, str, str, str]]:
    """(chunk id, article id, text, text hash, gold label) of every gold-labelled chunk."""
    return conn.execute(sql("evaluations", "gold_chunks"), [task]).fetchall()


def teacher_probs(conn: duckdb.DuckDBPyConnection, annotator: str, version: str, hashes: list[str]) -> dict[str, list[float]]:
    return dict(conn.execute(sql("evaluations", "teacher_probs"), [annotator, version, hashes]).fetchall())


def insert(conn: duckdb.DuckDBPyConnection, evaluation_id: str, model_id: str, teacher: str, split: str, result: dict, run_id: str) -> None:
    conn.execute(sql("evaluations", "insert"), [
        evaluation_id, model_id, teacher, split, result["paired"]["n"], json.dumps(result["student"]),
        json.dumps(result["teacher"]), json.dumps(result["paired"]), run_id,
    ])


def latest_for_model(conn: duckdb.DuckDBPyConnection, model_id: str) -> dict | None:
    row = conn.execute(sql("evaluations", "latest_for_model"), [model_id]).fetchone()
    if row is None:
        return None
    paired = json.loads(row[4])
    return {"id": row[0], "student": json.loads(row[2]), "teacher": json.loads(row[3]), "paired": {**paired, "n": row[1]}}


def record_decision(conn: duckdb.DuckDBPyConnection, model_id: str, evaluation_id: str, decision, forced: bool, reason: str | None) -> None:
    criteria = [{"name": c.name, "value": c.value, "threshold": c.threshold, "comparison": c.comparison, "passed": c.passed} for c in decision.criteria]
    conn.execute(sql("evaluations", "record_decision"),
                 [model_id, evaluation_id, decision.verdict, json.dumps(criteria), json.dumps(list(decision.reasons)), forced, reason])
