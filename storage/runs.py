"""Flow runs and their failures: what ran, with which parameters, and what failed and why."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb

from upscway.processes import ProcessId
from upscway.records import Failure, RunStatus
from upscway.storage.statements import sql


@dataclass(frozen=True)
class RunningRow:
    """A run whose row says `running`, and the process that said so."""

    id: str
    flow: str
    process: ProcessId | None  # None for rows written before runs recorded their process


def start_run(
    conn: duckdb.DuckDBPyConnection, run_id: str, flow: str, parameters: dict[str, Any], process: ProcessId
) -> None:
    conn.execute(
        sql("runs", "start_run"),
        [run_id, flow, json.dumps(parameters, default=str), process.host, process.pid, process.started_at],
    )


def running(conn: duckdb.DuckDBPyConnection) -> list[RunningRow]:
    return [
        RunningRow(run_id, flow, ProcessId(host, pid, started) if pid is not None else None)
        for run_id, flow, host, pid, started in conn.execute(sql("runs", "running")).fetchall()
    ]


def mark_crashed(conn: duckdb.DuckDBPyConnection, run_id: str, reason: str) -> None:
    """The run's process is gone without finishing it: `crashed`, noticed now."""
    conn.execute(sql("runs", "mark_crashed"), {"run_id": run_id, "reason": reason})


def finish_run(conn: duckdb.DuckDBPyConnection, run_id: str, status: RunStatus, summary: dict[str, Any]) -> None:
    conn.execute(sql("runs", "finish_run"), [RunStatus(status).value, json.dumps(summary, default=str), run_id])


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
