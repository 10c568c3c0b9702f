"""Ad hoc, read-only SQL for analysts (`upscway sql`, `upscway query`).

Two guards. DuckDB's own parser must find exactly one statement, of type SELECT (so COPY,
EXPORT, ATTACH, SET, PRAGMA, CALL, `WITH … DELETE` and `EXPLAIN ANALYZE COPY …` are refused
before anything runs). And the query runs on a connection that is read-only with external
access off and the configuration locked: no file outside the store can be read or written,
no extension installed or loaded, and no statement can turn that back on.

And two bounds (`[sql]`): a query is interrupted after `timeout_s` (so it holds the file, and
keeps writers waiting, for no longer; the settings keep `storage.lock_timeout_s` above it) and
runs under DuckDB's `memory_limit`. Either one hit, or Ctrl-C, is an InputError saying so.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb

from upscway.errors import InputError
from upscway.resources import SQL_DIR
from upscway.settings import SqlSettings
from upscway.storage.store import Store


class WriteRefused(InputError):
    pass


class QueryStopped(InputError):
    """The query ran into a bound (time, memory) or was interrupted; nothing was written."""

    def __init__(self, message: str, interrupted: bool = False):
        super().__init__(message)
        self.interrupted = interrupted


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
        raise WriteRefused(
            f"refused: `upscway sql` is read-only and runs SELECT queries only, but this is a {kind} statement"
        )


def run_query(
    store: Store, query: str, params: dict[str, Any] | None = None, limits: SqlSettings = SqlSettings()
) -> tuple[list[str], list[tuple]]:
    """Column names and rows of a read-only query, run with no access outside the store and
    within `limits`. The query runs in a thread so that the time limit and Ctrl-C can interrupt
    it at once, wherever DuckDB is; Ctrl-C is taken over from opening the store to the end
    (see `_ctrl_c`), so that it never lands between a connection and the thread using it."""
    check_read_only(query)
    opened: list[duckdb.DuckDBPyConnection] = []
    with _ctrl_c(opened) as stopped, store.reader(sandboxed=True, memory_limit_mb=limits.memory_limit()) as conn:
        opened.append(conn)
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                cursor = conn.execute(query, params) if params else conn.execute(query)
                outcome["result"] = ([d[0] for d in cursor.description or []], cursor.fetchall())
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc
            finally:
                done.set()

        threading.Thread(target=work, name="upscway-sql", daemon=True).start()
        deadline, timed_out = time.monotonic() + limits.timeout_s, False
        while not done.wait(0.2):  # an interrupt sent before DuckDB has started the query is lost: send it again
            timed_out = timed_out or time.monotonic() >= deadline
            if stopped.is_set() or timed_out:
                conn.interrupt()
        opened.clear()
        if stopped.is_set():
            raise _interrupted()
        if timed_out:
            raise QueryStopped(
                f"the query ran for sql.timeout_s = {limits.timeout_s:g} s and was stopped: narrow it "
                "(a WHERE, a LIMIT) or raise sql.timeout_s (UPSCWAY_SQL__TIMEOUT_S)"
            )
        error = outcome.get("error")
        if isinstance(error, duckdb.OutOfMemoryException):
            raise QueryStopped(
                f"the query needed more than sql.memory_limit_mb = {limits.memory_limit()} MB and was stopped: "
                "narrow it or raise sql.memory_limit_mb (UPSCWAY_SQL__MEMORY_LIMIT_MB)"
            )
        if isinstance(error, duckdb.Error):
            raise InputError(f"query failed: {error}") from None
        if error is not None:
            raise error
        return outcome["result"]


def _interrupted() -> QueryStopped:
    return QueryStopped("interrupted (Ctrl-C): the query was stopped", interrupted=True)


@contextmanager
def _ctrl_c(opened: list[duckdb.DuckDBPyConnection]) -> Iterator[threading.Event]:
    """While open, Ctrl-C sets the event it yields: it interrupts the connection in `opened`
    (the query's thread then ends and the caller sees the event), or, before a connection is
    open (waiting for a writer, connecting), stops at once. Python's own KeyboardInterrupt can
    land anywhere, even between starting the thread and waiting for it, and closing a connection
    that a thread is still using aborts the process. Outside the main thread, or where Ctrl-C
    is ignored, nothing changes."""
    stopped = threading.Event()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield stopped
        return

    def on_ctrl_c(signum: int, frame: object) -> None:
        stopped.set()
        if not opened:
            raise _interrupted()
        opened[0].interrupt()

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGINT, previous)


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


def run_named(
    store: Store, name: str, params: dict[str, str], limits: SqlSettings = SqlSettings()
) -> tuple[list[str], list[tuple]]:
    """Run `sql/queries/<name>.sql` with `--param name=value` values (bound, never spliced)."""
    queries = named_queries()
    if name not in queries:
        raise InputError(f"no query {name!r}; known: {', '.join(queries)}")
    query = queries[name]
    declared = {p.name: p.default for p in query.parameters}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise InputError(
            f"query {name} takes no parameter {', '.join(unknown)}; it takes: {', '.join(declared) or 'none'}"
        )
    values = {k: params.get(k, default) for k, default in declared.items()}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise InputError(f"query {name} needs --param {missing[0]}=VALUE")
    named_annotators = {k: v for k, v in values.items() if k.startswith("annotator") and v}
    if named_annotators:
        known = {row[0] for row in run_query(store, queries["annotators"].text, limits=limits)[1]}
        for key, value in named_annotators.items():
            if value not in known:
                raise InputError(
                    f"--param {key}={value}: no answers from that annotator; known: {', '.join(sorted(known)) or 'none yet'}"
                )
    return run_query(store, query.text, values or None, limits)
