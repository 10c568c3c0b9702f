"""Ad hoc, read-only SQL for analysts (`upscway sql`).

Two guards: only SELECT-like statements are accepted (so COPY ... TO, ATTACH or SET cannot
slip through), and the file is opened read-only, so DuckDB itself refuses any write.
"""

from __future__ import annotations

import duckdb
from typing import Any

from upscway.errors import InputError
from upscway.storage.store import Store

ALLOWED = {"SELECT", "EXPLAIN"}


class WriteRefused(InputError):
    pass


def check_read_only(query: str) -> None:
    try:
        parsed = duckdb.connect(":memory:").extract_statements(query)
    except duckdb.Error as exc:
        raise InputError(f"cannot parse the SQL: {exc}") from None
    if not parsed:
        raise InputError("no SQL statement given")
    for statement in parsed:
        kind = str(statement.type).rsplit(".", 1)[-1]
        if kind not in ALLOWED:
            raise WriteRefused(
                f"refused: `upscway sql` is read-only and runs SELECT queries only, but this is a {kind} statement"
            )


def run_query(store: Store, query: str, params: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
    """Column names and rows of a read-only query."""
    check_read_only(query)
    with store.reader() as conn:
        try:
            cursor = conn.execute(query, params) if params else conn.execute(query)
        except duckdb.Error as exc:
            raise InputError(f"query failed: {exc}") from None
        columns = [d[0] for d in cursor.description or []]
        return columns, cursor.fetchall()
