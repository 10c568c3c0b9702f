"""The model registry: students as they are trained, and the chunks that trained them."""

from __future__ import annotations

import json
from typing import Any

import duckdb
from upscway.storage.statements import sql


def register(conn: duckdb.DuckDBPyConnection, *, model_id: str, chain: str, stage: str, kind: str, base_model: str,
             path: str, teacher: str, task: str, prompt_version: str, config: dict[str, Any], run_id: str) -> None:
    conn.execute(sql("models", "register"), [model_id, chain, stage, kind, base_model, path, teacher, task, prompt_version,
                                             json.dumps(config, default=str), run_id])


def finish(conn: duckdb.DuckDBPyConnection, model_id: str, status: str, metrics: dict[str, Any]) -> None:
    conn.execute(sql("models", "finish"), [status, json.dumps(metrics, default=str), model_id])


def record_examples(conn: duckdb.DuckDBPyConnection, model_id: str, chunk_splits: list[tuple[str, str]]) -> None:
    if chunk_splits:
        conn.execute(sql("models", "record_examples"),
                     {"model_id": model_id, "chunk_ids": [c for c, _ in chunk_splits], "splits": [s for _, s in chunk_splits]})


def latest_of_stage(conn: duckdb.DuckDBPyConnection, chain: str, stage: str) -> tuple[str, str, str] | None:
    return conn.execute(sql("models", "latest_of_stage"), [chain, stage]).fetchone()


def get(conn: duckdb.DuckDBPyConnection, model_id: str) -> dict[str, Any] | None:
    cursor = conn.execute(sql("models", "get"), [model_id])
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row)) if row else None


def list_models(conn: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple]]:
    cursor = conn.execute(sql("models", "list"))
    return [d[0] for d in cursor.description], cursor.fetchall()


def unfinished(conn: duckdb.DuckDBPyConnection, chain: str, stage: str, teacher: str) -> tuple[str, str] | None:
    return conn.execute(sql("models", "unfinished"), [chain, stage, teacher]).fetchone()


def holder(conn: duckdb.DuckDBPyConnection, alias: str) -> str | None:
    row = conn.execute(sql("models", "holder"), [alias]).fetchone()
    return row[0] if row else None


def move_alias(conn: duckdb.DuckDBPyConnection, alias: str, model_id: str | None, action: str, reason: str | None = None) -> str | None:
    """Point `alias` at `model_id` (None clears it) and record the move; returns the previous
    holder. Call inside one transaction: a failure anywhere leaves the alias where it was."""
    previous = holder(conn, alias)
    conn.execute(sql("models", "clear_alias"), [alias])
    if model_id is not None:
        conn.execute(sql("models", "set_alias"), [alias, model_id])
    conn.execute(sql("models", "record_move"), [alias, model_id, previous, action, reason])
    return previous


def last_promotion(conn: duckdb.DuckDBPyConnection, alias: str) -> tuple[str, str | None] | None:
    return conn.execute(sql("models", "last_promotion"), [alias]).fetchone()
