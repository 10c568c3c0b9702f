"""The cascade's output: one final label per chunk and who decided it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb

from upscway.records import ChunkRef, Tag  # ChunkRef: what `untagged` returns (a core record, for the pure cascade)
from upscway.storage.gold import GOLD_SOURCE
from upscway.storage.statements import sql


def untagged(
    conn: duckdb.DuckDBPyConnection,
    task: str,
    since: str | None = None,
    limit: int | None = None,
    served: Sequence[str] | None = None,
) -> list[ChunkRef]:
    """Chunks without a tag for `task`, oldest first; with `served`, only those of articles in
    one of these languages or of unknown language."""
    params = {
        "task": task,
        "since": since,
        "limit": limit,
        "served": list(served) if served is not None else None,
        "gold_source": GOLD_SOURCE,
    }
    return [ChunkRef(*row) for row in conn.execute(sql("tags", "untagged"), params).fetchall()]


def untagged_elsewhere(
    conn: duckdb.DuckDBPyConnection, task: str, served: Sequence[str], since: str | None = None
) -> dict[str, int]:
    """language → untagged chunks of articles in a language not in `served`."""
    params = {"task": task, "since": since, "served": list(served)}
    return dict(conn.execute(sql("tags", "untagged_elsewhere"), params).fetchall())


def refuse_non_finite(tags: Sequence[Tag]) -> None:
    """ValueError naming the first tag whose probabilities or confidence are not all finite: the
    last line of defence, so that a NaN never becomes a stored label (routing defers such
    scores long before)."""
    bad = next((t for t in tags if not all(math.isfinite(p) for p in (*t.probs, t.confidence))), None)
    if bad is not None:
        raise ValueError(
            f"refused to store the tags: chunk {bad.chunk_id}'s, decided by {bad.annotator}, has probabilities "
            f"that are not finite: {list(bad.probs)[:8]}"
        )


def insert(conn: duckdb.DuckDBPyConnection, task: str, tags: Sequence[Tag], run_id: str) -> None:
    """Store final tags; ValueError, nothing stored, when one's numbers are not finite."""
    refuse_non_finite(tags)
    if tags:
        conn.execute(
            sql("tags", "insert"),
            {
                "task": task,
                "run_id": run_id,
                "chunk_ids": [t.chunk_id for t in tags],
                "hashes": [t.text_hash for t in tags],
                "labels": [t.label for t in tags],
                "probs": [t.probs for t in tags],
                "confidences": [t.confidence for t in tags],
                "decided_by": [t.decided_by.value for t in tags],
                "annotators": [t.annotator for t in tags],
            },
        )


def mean_cost(conn: duckdb.DuckDBPyConnection, annotator: str) -> float:
    return conn.execute(sql("tags", "mean_cost"), [annotator]).fetchone()[0]
