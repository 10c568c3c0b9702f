"""Ad hoc, read-only SQL for analysts (`upscway sql`, `upscway query`).

Two guards. DuckDB's own parser must find exactly one statement, of type SELECT (so COPY,
EXPORT, ATTACH, SET, PRAGMA, CALL, `WITH … DELETE` and `EXPLAIN ANALYZE COPY …` are refused
before anything runs). And the query runs on a connection that is read-only with external
access off and the configuration locked: no file outside the store can be read or written,
no extension installed or loaded, and no statement can turn that back on.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from upscway.errors import InputError
from upscway.resources import SQL_DIR
from upscway.storage.store import Store

class WriteRefused(InputError):
    pass


def check_read_only(query: str) -> None:
    """InputError unless `query` is one SELECT statement (DuckDB's parser decides)."""
    with duckdb.connect(":memory:") as parser:
        try:
            parsed = parser.extract_statements(query)
        except duckdb.Error as exc:
            raise InputError(f"cannot parse the SQL: {exc}") from None
    if not parsed:
        raise InputError("no SQL statement given")
    if len(parsed) > 1:
        raise WriteRefused(f"refused: one statement at a time, and this input holds {len(parsed)}")
    kind = parsed[0].type.name
    if kind != "SELECT":
        raise WriteRefused(f"refused: `upscway sql` is read-only and runs SELECT queries only, but this is a {kind} statement")


def run_query(store: Store, query: str, params: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
    """Column names and rows of a read-only query, run with no access outside the store."""
    check_read_only(query)
    with store.reader(sandboxed=True) as conn:
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
