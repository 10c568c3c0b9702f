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
