"""The cascade's output: one final label per chunk and who decided it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from upscway.storage.statements import sql


@dataclass(frozen=True)
class ChunkRef:
    chunk_id: str
    text_hash: str


def untagged(conn: duckdb.DuckDBPyConnection, task: str, since: str | None = None, limit: int | None = None) -> list[ChunkRef]:
    rows = conn.execute(sql("tags", "untagged"), {"task": task, "since": since, "limit": limit}).fetchall()
    return [ChunkRef(*row) for row in rows]


def insert(conn: duckdb.DuckDBPyConnection, task: str, tags: Sequence[Any], run_id: str) -> None:
    """Store final tags (records with chunk_id, text_hash, label, probs, confidence,
    decided_by and annotator)."""
    if tags:
        conn.execute(sql("tags", "insert"), {
            "task": task, "run_id": run_id,
            **{key: [getattr(t, field) for t in tags] for key, field in (
                ("chunk_ids", "chunk_id"), ("hashes", "text_hash"), ("labels", "label"), ("probs", "probs"),
                ("confidences", "confidence"), ("decided_by", "decided_by"), ("annotators", "annotator"))},
        })


def mean_cost(conn: duckdb.DuckDBPyConnection, annotator: str) -> float:
    return conn.execute(sql("tags", "mean_cost"), [annotator]).fetchone()[0]
