"""Ad hoc, read-only SQL for analysts (`upscway sql`, `upscway query`).

Two guards. DuckDB's own parser must find exactly one statement, of type SELECT (so COPY,
EXPORT, ATTACH, SET, PRAGMA, CALL, `WITH … DELETE` and `EXPLAIN ANALYZE COPY …` are refused
before anything runs). And the query runs on a connection that is read-only with external
access off and the configuration locked: no file outside the store can be read or written,
no extension installed or loaded, and no statement can turn that back on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


_PARAM = re.compile(r"^--[ \t]*param:[ \t]*(\w+)[ \t]*(?:=[ \t]*([^#\n]*?))?[ \t]*(?:#[ \t]*(.*?))?[ \t]*$", re.M)


@dataclass(frozen=True)
class Parameter:
    """A named query's `-- param: name [= default] [# description]` line. A parameter whose
    name starts with `annotator` must name an annotator that has answers (or be empty)."""

    name: str
    default: str | None
    description: str

    def __str__(self) -> str:
        return self.name + (f"={self.default}" if self.default else "=…" if self.default is None else "=''")


@dataclass(frozen=True)
class NamedQuery:
    name: str
    what: str
    parameters: list[Parameter]
    text: str


def named_queries() -> dict[str, NamedQuery]:
    """Every `sql/queries/<name>.sql`, by name."""
    found = {}
    for path in sorted((SQL_DIR / "queries").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        parameters = [Parameter(m.group(1), m.group(2), m.group(3) or "") for m in _PARAM.finditer(text)]
        found[path.stem] = NamedQuery(path.stem, text.splitlines()[0].lstrip("- ").strip(), parameters, text)
    return found


def run_named(store: Store, name: str, params: dict[str, str]) -> tuple[list[str], list[tuple]]:
    """Run `sql/queries/<name>.sql` with `--param name=value` values (bound, never spliced)."""
    queries = named_queries()
    if name not in queries:
        raise InputError(f"no query {name!r}; known: {', '.join(queries)}")
    query = queries[name]
    declared = {p.name: p.default for p in query.parameters}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise InputError(f"query {name} takes no parameter {', '.join(unknown)}; it takes: {', '.join(declared) or 'none'}")
    values = {k: params.get(k, default) for k, default in declared.items()}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise InputError(f"query {name} needs --param {missing[0]}=VALUE")
    named_annotators = {k: v for k, v in values.items() if k.startswith("annotator") and v}
    if named_annotators:
        known = {row[0] for row in run_query(store, queries["annotators"].text)[1]}
        for key, value in named_annotators.items():
            if value not in known:
                raise InputError(f"--param {key}={value}: no answers from that annotator; known: {', '.join(sorted(known)) or 'none yet'}")
    return run_query(store, query.text, values or None)
