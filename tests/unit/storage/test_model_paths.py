"""Model folders are stored relative to the data directory, so a copied or restored data
directory uses its own weights (issue 30, row 11)."""

import shutil

from tests.support.models import new_model
from upscway.resources import SQL_DIR
from upscway.storage import models as registry
from upscway.storage.layout import DataLayout
from upscway.storage.migrations import migrate
from upscway.storage.store import Store


def _register(conn, model_id, path, base_model="b"):
    registry.register(
        conn,
        new_model(model_id, base_model=base_model, path=str(path)),
    )


def test_a_folder_inside_the_data_directory_is_stored_relative_and_read_back_absolute(store):
    root = store.path.parent
    with store.transaction() as conn:
        _register(conn, "inside", root / "models" / "inside")
        _register(conn, "outside", "/elsewhere/models/outside")
    with store.reader() as conn:
        assert dict(conn.execute("SELECT id, path FROM models").fetchall()) == {
            "inside": "models/inside",
            "outside": "/elsewhere/models/outside",
        }
        assert registry.get(conn, "inside").path == str(root / "models" / "inside")
        assert registry.get(conn, "outside").path == "/elsewhere/models/outside"


def test_a_copied_data_directory_reads_its_own_folders(store, tmp_path):
    root = store.path.parent
    (root / "models" / "m").mkdir(parents=True)
    (root / "base" / "qwen").mkdir(parents=True)
    with store.transaction() as conn:
        _register(conn, "m", root / "models" / "m", base_model=str(root / "base" / "qwen"))
    copy = tmp_path.parent / f"{tmp_path.name}-copy"
    shutil.copytree(root, copy)
    shutil.rmtree(root)

    with Store(copy / "upscway.duckdb").reader() as conn:
        assert registry.get(conn, "m").path == str(copy / "models" / "m")
        assert registry.get(conn, "m").base_model == str(copy / "base" / "qwen")  # converted under the data directory
        assert registry.derived(conn, "nobody", str(copy / "models" / "m")) is None


def test_a_legacy_absolute_path_into_another_data_directory_resolves_to_this_one(tmp_path):
    here, there = DataLayout(tmp_path / "copy"), DataLayout(tmp_path / "original")
    (here.models / "m").mkdir(parents=True)
    (there.models / "m").mkdir(parents=True)
    assert here.resolved(str(there.models / "m")) == str(
        here.models / "m"
    )  # the copy's, though the original is still there
    assert here.resolved(str(here.models / "m")) == str(here.models / "m")
    assert here.resolved(str(there.models / "gone")) == str(there.models / "gone")  # nothing here: as stored
    assert here.resolved("models/m") == str(here.models / "m")


def test_migration_014_rewrites_absolute_paths_under_the_data_directory(tmp_path):
    older = tmp_path / "migrations"
    older.mkdir()
    for path in (SQL_DIR / "migrations").glob("*.sql"):
        if int(path.name[:3]) < 14:
            shutil.copy(path, older)
    store = Store(tmp_path / "data" / "upscway.duckdb", lock_timeout_s=10)
    migrate(store, older)
    with store.transaction() as conn:
        for model_id, path in (("in", store.path.parent / "models" / "in"), ("out", tmp_path / "elsewhere" / "out")):
            conn.execute(
                "INSERT INTO models (id, stage, kind, base_model, path, teacher, task, prompt_version, status) "
                "VALUES (?, 's', 'encoder', 'b', ?, 't', 'upsc_gs', 'v', 'candidate')",
                [model_id, str(path)],
            )

    assert 14 in migrate(store)
    with store.reader() as conn:
        assert dict(conn.execute("SELECT id, path FROM models").fetchall()) == {
            "in": "models/in",
            "out": str(tmp_path / "elsewhere" / "out"),
        }
