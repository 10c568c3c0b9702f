"""`upscway sql`: one SELECT, on a read-only connection with no access outside the store."""

import hashlib

import pytest

from upscway.errors import InputError
from upscway.storage.adhoc import WriteRefused, run_named, run_query


def _digest(store) -> str:
    return hashlib.sha256(store.path.read_bytes()).hexdigest()


def test_select_returns_columns_and_rows(store):
    with store.transaction() as conn:
        conn.execute("INSERT INTO sources (name) VALUES ('pib'), ('the-hindu')")
    columns, rows = run_query(store, "SELECT name FROM sources ORDER BY name")
    assert columns == ["name"] and rows == [("pib",), ("the-hindu",)]
    assert run_query(store, "FROM sources SELECT count(*)")[1] == [(2,)]  # DuckDB's FROM-first SELECT
    assert run_query(store, "WITH s AS (SELECT name FROM sources) SELECT count(*) FROM s")[1] == [(2,)]


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO sources (name) VALUES ('x')",
        "DELETE FROM articles",
        "DROP TABLE chunks",
        "UPDATE sources SET language = 'hi'",
        "WITH doomed AS (SELECT 1) DELETE FROM sources",
        "COPY (SELECT 1) TO '{tmp}/out.csv'",
        "COPY sources TO '{store}'",
        "EXPLAIN ANALYZE COPY (SELECT 'x' AS x) TO '{store}'",
        "EXPLAIN SELECT 1",
        "EXPORT DATABASE '{tmp}/export'",
        "ATTACH '{tmp}/other.duckdb'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA database_list",
        "SET enable_external_access = true",
        "CALL pragma_version()",
        "SELECT 1; DELETE FROM sources",
        "SELECT 1; SELECT 2",
    ],
)
def test_anything_but_one_select_is_refused_and_the_store_is_untouched(store, tmp_path, query):
    with store.transaction() as conn:
        conn.execute("INSERT INTO sources (name) VALUES ('keep')")
    before = _digest(store)
    with pytest.raises(WriteRefused, match="refused"):
        run_query(store, query.format(tmp=tmp_path, store=store.path))
    assert _digest(store) == before
    assert run_query(store, "SELECT name FROM sources")[1] == [("keep",)]
    assert list(tmp_path.iterdir()) == [store.path]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM glob('/root/*')",
        "SELECT * FROM sniff_csv('/etc/hostname')",
        "SELECT * FROM read_json('{tmp}/*.json')",
        "SELECT * FROM duckdb_extensions()",
    ],
)
def test_a_select_cannot_reach_files_outside_the_store(store, tmp_path, query):
    with pytest.raises(InputError, match="disabled by configuration|Permission"):
        run_query(store, query.format(tmp=tmp_path, store=store.path))


def test_named_query_parameters_stay_bound(store):
    with store.transaction() as conn:
        conn.execute("INSERT INTO sources (name) VALUES ('keep')")
    hostile = "x'; DELETE FROM sources; --"
    assert run_named(store, "tagged", {"source": hostile})[1] == []
    assert run_query(store, "SELECT name FROM sources")[1] == [("keep",)]


def test_bad_sql_is_an_input_error(store):
    with pytest.raises(InputError, match="no_such_table"):
        run_query(store, "SELECT * FROM no_such_table")
    with pytest.raises(InputError, match="parse"):
        run_query(store, "SELEC 1")
    with pytest.raises(InputError, match="no SQL"):
        run_query(store, "  ;  ")


def test_a_query_past_its_time_limit_is_stopped_promptly(store):
    import time

    from upscway.settings import SqlSettings
    from upscway.storage.adhoc import QueryStopped

    started = time.monotonic()
    with pytest.raises(QueryStopped, match=r"ran for sql.timeout_s = 0.5 s and was stopped"):
        run_query(store, "SELECT count(*) FROM range(1000000000000)", limits=SqlSettings(timeout_s=0.5))
    assert time.monotonic() - started < 30  # interrupted, not run to its end (hours)
    assert run_query(store, "SELECT 1", limits=SqlSettings(timeout_s=0.5))[1] == [(1,)]  # the store is free again


def test_a_query_past_its_memory_limit_is_stopped(store):
    from upscway.settings import SqlSettings
    from upscway.storage.adhoc import QueryStopped

    with pytest.raises(QueryStopped, match=r"needed more than sql.memory_limit_mb = 64 MB"):
        run_query(
            store,
            "SELECT length(string_agg(repeat('x', 1000), '')) FROM range(10000000)",
            limits=SqlSettings(memory_limit_mb=64),
        )
    assert SqlSettings().memory_limit() > 256  # a quarter of this machine's memory
