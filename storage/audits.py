"""The cascade in production: each night's audit and live bound, and its fallbacks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from upscway.records import Audited  # what `insert_audits` stores (a core record, for the pure cascade)
from upscway.storage.statements import sql


@dataclass(frozen=True)
class Fallback:
    id: int
    reason: str
    figures: dict
    since: str


def insert_audits(
    conn: duckdb.DuckDBPyConnection, run_id: str, model_id: str, probability: float, audited: Sequence[Audited]
) -> None:
    if audited:
        conn.execute(
            sql("audits", "insert_audits"),
            {
                "run_id": run_id,
                "model_id": model_id,
                "probability": probability,
                "chunk_ids": [a.chunk_id for a in audited],
                "hashes": [a.text_hash for a in audited],
                "student_labels": [a.student_label for a in audited],
                "teacher_labels": [a.teacher_label for a in audited],
            },
        )


def insert_night(conn: duckdb.DuckDBPyConnection, run_id: str, model_id: str, figures: dict) -> None:
    """A tag run's audit figures (the keys are `cascade_nights`' columns)."""
    columns = (
        "night",
        "chunks",
        "decided",
        "audited",
        "disagreements",
        "audit_rate",
        "alpha",
        "live_estimate",
        "live_lower",
        "live_upper",
        "max_loss",
        "fallback",
        "teacher_requests",
        "audit_requests",
        "requests_saved",
        "calibration_articles",
        "calibration_requests",
        "detector",
        "withheld",
    )
    conn.execute(sql("audits", "insert_night"), [run_id, model_id, *(figures.get(c) for c in columns)])


def insert_calibration_draws(
    conn: duckdb.DuckDBPyConnection, run_id: str, model_id: str | None, articles: Sequence[str], probability: float
) -> None:
    """The articles a tag run drew for calibration, each drawn with `probability`."""
    if articles:
        params = {"run_id": run_id, "articles": list(articles), "probability": probability, "model_id": model_id}
        conn.execute(sql("audits", "insert_calibration_draws"), params)


def nights_since_promotion(conn: duckdb.DuckDBPyConnection, model_id: str) -> tuple[int, float | None]:
    """The model's audited nights since it last became production, and the live detector's log
    value after the latest (None: no night, or one stored before the detector)."""
    nights, detector = conn.execute(sql("audits", "nights_since_promotion"), {"model_id": model_id}).fetchone()
    return nights, detector


def active_fallback(conn: duckdb.DuckDBPyConnection, model_id: str) -> Fallback | None:
    row = conn.execute(sql("audits", "active_fallback"), [model_id]).fetchone()
    return None if row is None else Fallback(row[0], row[1], json.loads(row[2]), row[3])


def production_fallback_since(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the production model's active fallback began; None when none holds."""
    return conn.execute(sql("audits", "production_fallback_since")).fetchone()[0]


def record_fallback(conn: duckdb.DuckDBPyConnection, model_id: str, run_id: str, reason: str, figures: dict) -> None:
    conn.execute(sql("audits", "record_fallback"), [model_id, run_id, reason, json.dumps(figures)])


def clear_fallbacks(conn: duckdb.DuckDBPyConnection, model_id: str, reason: str) -> int:
    """Clear the model's active fallbacks; how many there were."""
    return len(conn.execute(sql("audits", "clear_fallbacks"), [reason, model_id]).fetchall())


def recent_nights(conn: duckdb.DuckDBPyConnection, limit: int = 30) -> tuple[list[str], list[tuple]]:
    cursor = conn.execute(sql("audits", "recent_nights"), [limit])
    return [d[0] for d in cursor.description], cursor.fetchall()
