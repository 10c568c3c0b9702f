"""The model registry: students as they are trained, and the chunks that trained them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from upscway.processes import ProcessId
from upscway.results import StudentMetrics
from upscway.storage.layout import DataLayout
from upscway.storage.statements import sql


@dataclass(frozen=True)
class ModelRecord:
    """A registered student: where it is, what taught it, how it was trained and how it did."""

    id: str
    chain: str
    stage: str
    kind: str  # encoder | causal-lm
    base_model: str
    path: str  # absolute, in this data directory (stored relative to it: see `storage/layout.py`)
    teacher: str
    task: str
    prompt_version: str
    config: dict[str, Any]
    metrics: StudentMetrics  # a dict given here is parsed (the stored JSON, or a test's figures)
    status: str  # training | candidate | failed
    alias: str | None
    created_at: datetime | None
    parent_id: str | None = None  # the model this one was derived from (an INT8 student's float parent)

    def __post_init__(self) -> None:
        if not isinstance(self.metrics, StudentMetrics):
            object.__setattr__(self, "metrics", StudentMetrics.model_validate(self.metrics or {}))


@dataclass(frozen=True)
class NewModel:
    """A model to register, before it is trained: its lineage (chain, stage, teacher, the
    model it was derived from), what it is built on, where its folder is, and the run that
    trains it."""

    model_id: str
    chain: str
    stage: str
    kind: str  # encoder | causal-lm
    base_model: str
    path: str
    teacher: str
    task: str
    prompt_version: str
    config: dict[str, Any]
    run_id: str | None
    parent_id: str | None = None


@dataclass(frozen=True)
class AliasMove:
    """The last move of an alias: the model it moved to and the one it held before."""

    model_id: str | None
    previous_id: str | None


def layout_of(conn: duckdb.DuckDBPyConnection) -> DataLayout | None:
    """The data directory of the file `conn` has open (None for an in-memory database)."""
    row = conn.execute(sql("models", "database_file")).fetchone()
    return DataLayout(Path(row[0]).parent) if row and row[0] else None


def _stored(conn: duckdb.DuckDBPyConnection, path: str) -> str:
    layout = layout_of(conn)
    return layout.stored(path) if layout else path


def _resolved(conn: duckdb.DuckDBPyConnection, path: str) -> str:
    layout = layout_of(conn)
    return layout.resolved(path) if layout else path


def register(conn: duckdb.DuckDBPyConnection, new: NewModel) -> None:
    """A new model in `training`; its folder `path` is kept relative to the data directory."""
    conn.execute(
        sql("models", "register"),
        [
            new.model_id,
            new.chain,
            new.stage,
            new.kind,
            new.base_model,
            _stored(conn, new.path),
            new.teacher,
            new.task,
            new.prompt_version,
            json.dumps(new.config, default=str),
            new.run_id,
            new.parent_id,
        ],
    )


def _plain(value: Any) -> Any:
    """JSON for what `json` cannot write: a student's metrics as stored (a quantized model keeps
    its parent's), anything else as its string."""
    return value.stored() if isinstance(value, StudentMetrics) else str(value)


def finish(conn: duckdb.DuckDBPyConnection, model_id: str, status: str, metrics: dict[str, Any]) -> None:
    conn.execute(sql("models", "finish"), [status, json.dumps(metrics, default=_plain), model_id])


def add_metrics(conn: duckdb.DuckDBPyConnection, model_id: str, metrics: StudentMetrics) -> None:
    """Merge `metrics`' keys (those given, nothing else) into the model's stored ones."""
    conn.execute(sql("models", "add_metrics"), [json.dumps(metrics.stored(), default=_plain), model_id])


def record_examples(conn: duckdb.DuckDBPyConnection, model_id: str, chunks_by_split: dict[str, list[str]]) -> None:
    """Which chunks trained (or validated) `model_id`: split name → chunk ids."""
    pairs = [(chunk, split) for split, chunks in chunks_by_split.items() for chunk in chunks]
    if pairs:
        conn.execute(
            sql("models", "record_examples"),
            {"model_id": model_id, "chunk_ids": [c for c, _ in pairs], "splits": [s for _, s in pairs]},
        )


def copy_examples(conn: duckdb.DuckDBPyConnection, model_id: str, parent_id: str) -> None:
    """`model_id` was trained on exactly the chunks of `parent_id` (it was derived from it)."""
    conn.execute(sql("models", "copy_examples"), [model_id, parent_id])


def derived(conn: duckdb.DuckDBPyConnection, parent_id: str, path: str) -> str | None:
    """The model already derived from `parent_id` into `path`, if any."""
    wanted = Path(path).resolve()
    rows = conn.execute(sql("models", "derived"), [parent_id]).fetchall()
    return next((model_id for model_id, stored in rows if Path(_resolved(conn, stored)).resolve() == wanted), None)


def latest_of_stage(conn: duckdb.DuckDBPyConnection, chain: str, stage: str) -> ModelRecord | None:
    """The newest trained candidate of a chain's stage."""
    row = conn.execute(sql("models", "latest_of_stage"), [chain, stage]).fetchone()
    return get(conn, row[0]) if row else None


def get(conn: duckdb.DuckDBPyConnection, model_id: str) -> ModelRecord | None:
    cursor = conn.execute(sql("models", "get"), [model_id])
    row = cursor.fetchone()
    if row is None:
        return None
    fields = dict(zip([d[0] for d in cursor.description], row))
    fields["config"] = json.loads(fields["config"]) if fields["config"] else {}
    fields["metrics"] = json.loads(fields["metrics"]) if fields["metrics"] else {}
    fields["path"] = _resolved(conn, fields["path"])
    if Path(
        fields["base_model"]
    ).is_absolute():  # a base converted under a data directory (`{data_dir}` in chains.yaml)
        fields["base_model"] = _resolved(conn, fields["base_model"])
    return ModelRecord(**fields)


def ids_starting(conn: duckdb.DuckDBPyConnection, prefix: str) -> list[str]:
    """Up to 11 model ids that start with `prefix` (enough to say it is ambiguous)."""
    return [model_id for (model_id,) in conn.execute(sql("models", "ids_starting"), [prefix]).fetchall()]


def list_models(conn: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple]]:
    cursor = conn.execute(sql("models", "list"))
    return [d[0] for d in cursor.description], cursor.fetchall()


def unfinished(conn: duckdb.DuckDBPyConnection, chain: str, stage: str, teacher: str) -> ModelRecord | None:
    """A model of this stage and teacher whose training was interrupted (it resumes)."""
    row = conn.execute(sql("models", "unfinished"), [chain, stage, teacher]).fetchone()
    return get(conn, row[0]) if row else None


def holder(conn: duckdb.DuckDBPyConnection, alias: str) -> str | None:
    row = conn.execute(sql("models", "holder"), [alias]).fetchone()
    return row[0] if row else None


def move_alias(
    conn: duckdb.DuckDBPyConnection,
    alias: str,
    model_id: str | None,
    action: str,
    reason: str | None = None,
    threshold: float | None = None,
) -> str | None:
    """Point `alias` at `model_id` (None clears it) and record the move, with the cascade
    threshold it was validated at; returns the previous holder. Call inside one transaction: a
    failure anywhere leaves the alias where it was."""
    previous = holder(conn, alias)
    conn.execute(sql("models", "clear_alias"), [alias])
    if model_id is not None:
        conn.execute(sql("models", "set_alias"), [alias, model_id])
    conn.execute(sql("models", "record_move"), [alias, model_id, previous, action, reason, threshold])
    return previous


def validated_threshold(conn: duckdb.DuckDBPyConnection, alias: str, model_id: str) -> float | None:
    """The cascade threshold `model_id` was last promoted to `alias` with, if one was recorded."""
    row = conn.execute(sql("models", "validated_threshold"), [alias, model_id]).fetchone()
    return row[0] if row else None


def last_promotion(conn: duckdb.DuckDBPyConnection, alias: str) -> AliasMove | None:
    row = conn.execute(sql("models", "last_promotion"), [alias]).fetchone()
    return AliasMove(*row) if row else None


@dataclass(frozen=True)
class Training:
    """A model still marked `training`, and the run that trains it (as far as the store knows)."""

    model_id: str
    stage: str
    run_id: str | None
    run_status: str | None
    process: ProcessId | None  # None when no run, or one that did not record its process

    def is_live(self) -> bool:
        """Its run is `running` and that run's process is still alive (a process on another host
        counts as alive: this host cannot see it end)."""
        return self.run_status == "running" and self.process is not None and not self.process.is_gone()


def in_training(
    conn: duckdb.DuckDBPyConnection, chain: str, stage: str | None = None, teacher: str | None = None
) -> list[Training]:
    """The chain's models (of `stage` and `teacher`, when given) still marked `training`, newest first."""
    rows = conn.execute(sql("models", "in_training"), {"chain": chain, "stage": stage, "teacher": teacher}).fetchall()
    return [
        Training(model_id, model_stage, run_id, status, ProcessId(host, pid, started) if pid is not None else None)
        for model_id, model_stage, run_id, status, host, pid, started in rows
    ]


def take_over(conn: duckdb.DuckDBPyConnection, model_id: str, run_id: str) -> None:
    """`run_id` now trains `model_id` (it resumes a training whose run died)."""
    conn.execute(sql("models", "take_over"), [run_id, model_id])
