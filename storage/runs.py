"""Flow runs and their failures: what ran, with which parameters, and what failed and why."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import duckdb

from upscway.records import Failure
from upscway.storage.statements import sql


def start_run(conn: duckdb.DuckDBPyConnection, run_id: str, flow: str, parameters: dict[str, Any]) -> None:
    conn.execute(sql("runs", "start_run"), [run_id, flow, json.dumps(parameters, default=str)])


def finish_run(conn: duckdb.DuckDBPyConnection, run_id: str, status: str, summary: dict[str, Any]) -> None:
    conn.execute(sql("runs", "finish_run"), [status, json.dumps(summary, default=str), run_id])


def record_failures(conn: duckdb.DuckDBPyConnection, run_id: str, failures: Iterable[Failure]) -> int:
    failures = list(failures)
    if failures:
        conn.execute(
            sql("runs", "insert_failures"),
            {
                "run_id": run_id,
                "stages": [f.stage for f in failures],
                "items": [f.item for f in failures],
                "reasons": [f.reason[:2000] for f in failures],
            },
        )
    return len(failures)


def count_failures(conn: duckdb.DuckDBPyConnection, run_id: str) -> int:
    return conn.execute(sql("runs", "count_failures"), [run_id]).fetchone()[0]
