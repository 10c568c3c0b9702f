import pytest

from upscway.errors import InputError
from upscway.storage.adhoc import WriteRefused, run_query


def test_select_returns_columns_and_rows(store):
    with store.transaction() as conn:
        conn.execute("INSERT INTO sources (name) VALUES ('pib'), ('the-hindu')")
    columns, rows = run_query(store, "SELECT name FROM sources ORDER BY name")
    assert columns == ["name"] and rows == [("pib",), ("the-hindu",)]


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO sources (name) VALUES ('x')",
        "DELETE FROM articles",
        "DROP TABLE chunks",
        "UPDATE sources SET language = 'hi'",
        "COPY (SELECT 1) TO '/tmp/out.csv'",
        "ATTACH '/tmp/other.duckdb'",
        "SELECT 1; DELETE FROM sources",
    ],
)
def test_writes_are_refused_and_nothing_changes(store, query):
    with store.transaction() as conn:
        conn.execute("INSERT INTO sources (name) VALUES ('keep')")
    with pytest.raises(WriteRefused, match="read-only"):
        run_query(store, query)
    assert run_query(store, "SELECT name FROM sources")[1] == [("keep",)]


def test_bad_sql_is_an_input_error(store):
    with pytest.raises(InputError, match="no_such_table"):
        run_query(store, "SELECT * FROM no_such_table")
    with pytest.raises(InputError, match="parse"):
        run_query(store, "SELEC 1")
