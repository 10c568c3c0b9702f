"""Imports of teacher answers computed elsewhere (`upscway annotate import`): finding the
chunks a file's lines name, and one `answer_imports` row per import. The answers themselves
go into `annotations` through `storage.annotations.insert`, under the import's id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import duckdb

from upscway.storage.statements import sql


@dataclass(frozen=True)
class AnswerImport:
    """One import: what the file held (`lines`, non-blank), what it stored (`added`) and what
    was stored already under `annotator` and `prompt_version` (`unchanged`)."""

    import_id: str
    file: str
    annotator: str
    task: str
    prompt_version: str
    models: tuple[str, ...]
    lines: int
    added: int
    unchanged: int


def chunk_hashes(conn: duckdb.DuckDBPyConnection, chunk_ids: Sequence[str]) -> dict[str, str]:
    """Chunk id → its text hash, for the ids the store has."""
    return dict(conn.execute(sql("answer_imports", "chunk_hashes"), [list(chunk_ids)]).fetchall())


def stored_hashes(conn: duckdb.DuckDBPyConnection, hashes: Sequence[str]) -> set[str]:
    """The text hashes among `hashes` that some stored chunk has."""
    return {h for (h,) in conn.execute(sql("answer_imports", "stored_hashes"), [list(hashes)]).fetchall()}


def record(conn: duckdb.DuckDBPyConnection, done: AnswerImport) -> None:
    conn.execute(sql("answer_imports", "record"), {**asdict(done), "models": list(done.models)})
