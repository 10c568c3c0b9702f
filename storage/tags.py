"""The cascade's output: one final label per chunk and who decided it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from upscway.records import Tag
from upscway.storage.statements import sql


@dataclass(frozen=True)
class ChunkRef:
    chunk_id: str
    text_hash: str


def untagged(conn: duckdb.DuckDBPyConnection, task: str, since: str | None = None, limit: int | None = None) -> list[ChunkRef]:
    rows = conn.execute(sql("tags", "untagged"), {"task": task, "since": since, "limit": limit}).fetchall()
    return [ChunkRef(*row) for row in rows]


def insert(conn: duckdb.DuckDBPyConnection, task: str, tags: Sequence[Tag], run_id: str) -> None:
    """Store final tags."""
    if tags:
        conn.execute(sql("tags", "insert"), {
            "task": task, "run_id": run_id, "chunk_ids": [t.chunk_id for t in tags], "hashes": [t.text_hash for t in tags],
            "labels": [t.label for t in tags], "probs": [t.probs for t in tags], "confidences": [t.confidence for t in tags],
            "decided_by": [t.decided_by.value for t in tags], "annotators": [t.annotator for t in tags],
        })


def mean_cost(conn: duckdb.DuckDBPyConnection, annotator: str) -> float:
    return conn.execute(sql("tags", "mean_cost"), [annotator]).fetchone()[0]
