import shutil

import duckdb
import pytest

from upscway.resources import SQL_DIR
from upscway.storage.migrations import MigrationError, discover, migrate
from upscway.storage.store import Store


def test_fresh_store_gets_every_migration_recorded(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    applied = migrate(store)

    assert applied == [m.version for m in discover()]
    with store.reader() as conn:
        recorded = conn.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version").fetchall()
        tables = {t for (t,) in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert [(v, n, c) for v, n, c in recorded] == [(m.version, m.name, m.checksum) for m in discover()]
    assert {"sources", "feeds", "articles", "article_aliases", "chunks", "flow_runs", "failures"} <= tables


def test_migrate_is_idempotent(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    migrate(store)
    assert migrate(store) == []


def _copy_migrations(tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(SQL_DIR / "migrations", folder)
    return folder


def test_new_migration_file_is_applied_forward_only(tmp_path):
    folder = _copy_migrations(tmp_path)
    store = Store(tmp_path / "db.duckdb")
    migrate(store, folder)
    (folder / "999_add_note.sql").write_text("ALTER TABLE articles ADD COLUMN note VARCHAR;")

    assert migrate(store, folder) == [999]
    with store.reader() as conn:
        assert "note" in [c[0] for c in conn.execute("DESCRIBE articles").fetchall()]


def test_editing_an_applied_migration_is_refused(tmp_path):
    folder = _copy_migrations(tmp_path)
    store = Store(tmp_path / "db.duckdb")
    migrate(store, folder)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")

    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(store, folder)


def test_failed_migration_leaves_nothing_half_applied(tmp_path):
    folder = _copy_migrations(tmp_path)
    store = Store(tmp_path / "db.duckdb")
    migrate(store, folder)
    (folder / "999_broken.sql").write_text("CREATE TABLE extra (x INTEGER); SELECT * FROM no_such_table;")

    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        migrate(store, folder)
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations WHERE version = 999").fetchone() == (0,)
        assert "extra" not in {
            t for (t,) in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }


def test_badly_named_migration_is_refused(tmp_path):
    folder = _copy_migrations(tmp_path)
    (folder / "add_stuff.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNN_name.sql"):
        discover(folder)


def test_status_reads_a_store_an_older_version_wrote_without_writing_to_it(tmp_path):
    """Migrations 1–11 applied, 12 and 13 (the audit's and the studies' tables) not: status says so and shows the rest."""
    from upscway.cli.commands import status
    from upscway.settings import load_settings

    older = tmp_path / "older"
    older.mkdir()
    for path in discover():
        if path.version < 12:
            shutil.copy(path.path, older / path.path.name)
    store = Store(tmp_path / "data" / "upscway.duckdb")
    migrate(store, older)
    tables = status(load_settings(data_dir=tmp_path / "data"))
    titles = [title for title, _, _ in tables]
    later = ", ".join(str(m.version) for m in discover() if m.version >= 12)  # 12, 13 and any added since
    assert titles[0] == "store" and tables[0][2] == [(f"{later}: the next `upscway run …` applies them",)]
    assert "cascade live bound" not in titles and "counts" in titles
    with store.reader() as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (11,)  # nothing written
