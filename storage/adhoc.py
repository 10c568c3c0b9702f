"""Ad hoc, read-only SQL for analysts (`upscway sql`).

Two guards: only SELECT-like statements are accepted (so COPY ... TO, ATTACH or SET cannot
slip through), and the file is opened read-only, so DuckDB itself refuses any write.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from upscway.errors import InputError
from upscway.resources import SQL_DIR
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


_PARAM = re.compile(r"^--[ \t]*param:[ \t]*(\w+)[ \t]*(?:=[ \t]*(.*?))?[ \t]*$", re.M)


def named_queries() -> dict[str, str]:
    """Name -> first comment line, for every `sql/queries/<name>.sql`."""
    return {p.stem: p.read_text().splitlines()[0].lstrip("- ").strip() for p in sorted((SQL_DIR / "queries").glob("*.sql"))}


def run_named(store: Store, name: str, params: dict[str, str]) -> tuple[list[str], list[tuple]]:
    """Run `sql/queries/<name>.sql`; its `-- param: name [= default]` lines declare the
    parameters that `--param name=value` sets."""
    path = SQL_DIR / "queries" / f"{name}.sql"
    if not path.is_file():
        raise InputError(f"no query {name!r}; known: {', '.join(named_queries())}")
    text = path.read_text(encoding="utf-8")
    declared = {m.group(1): m.group(2) for m in _PARAM.finditer(text)}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise InputError(f"query {name} takes no parameter {', '.join(unknown)}; it takes: {', '.join(declared) or 'none'}")
    values = {k: params.get(k, default) for k, default in declared.items()}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise InputError(f"query {name} needs --param {missing[0]}=VALUE")
    return run_query(store, text, values or None)
