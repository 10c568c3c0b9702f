"""Studies and their arms: one `studies` row per run of a spec, one `study_arms` row per arm
and seed (its figures on the study's gold chunks and its predictions there, from which the
report's paired intervals are computed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from upscway.storage.statements import sql


@dataclass(frozen=True)
class ArmRow:
    arm: str
    seed: int
    arm_key: str
    settings: dict[str, Any]
    trained: bool
    metrics: dict[str, Any]
    predictions: list[int]
    model_path: str


@dataclass(frozen=True)
class StudyStart:
    """A study's row as it starts: what it runs (the spec, from which file), against which teacher, on how much gold."""

    study_id: str
    name: str
    spec_file: str
    spec: dict[str, Any]
    quick: bool
    teacher: str
    gold_chunks: int
    run_id: str


def start(conn: duckdb.DuckDBPyConnection, row: StudyStart) -> None:
    conn.execute(
        sql("studies", "start"),
        [
            row.study_id,
            row.name,
            row.spec_file,
            json.dumps(row.spec),
            row.quick,
            row.teacher,
            row.gold_chunks,
            row.run_id,
        ],
    )


def record_arm(conn: duckdb.DuckDBPyConnection, study_id: str, row: ArmRow) -> None:
    m = row.metrics
    conn.execute(
        sql("studies", "record_arm"),
        [
            study_id,
            row.arm,
            row.seed,
            row.arm_key,
            json.dumps(row.settings),
            row.trained,
            m.get("accuracy"),
            m.get("macro_f1"),
            m.get("agreement"),
            m.get("ece"),
            m.get("chunks_per_s"),
            m.get("parameters"),
            m.get("size_mb"),
            json.dumps(m),
            row.predictions,
            row.model_path,
        ],
    )


def finish(
    conn: duckdb.DuckDBPyConnection, study_id: str, status: str, summary: dict[str, Any], report_path: str | None
) -> None:
    conn.execute(sql("studies", "finish"), [status, json.dumps(summary, default=str), report_path, study_id])


def arms(conn: duckdb.DuckDBPyConnection, study_id: str) -> list[ArmRow]:
    rows = conn.execute(sql("studies", "arms"), [study_id]).fetchall()
    return [
        ArmRow(arm, seed, key, json.loads(settings), trained, json.loads(metrics), list(predictions), path)
        for arm, seed, key, settings, trained, metrics, predictions, path in rows
    ]
