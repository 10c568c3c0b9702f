"""A registered model's folder as files on a disk (issue 30, rows 10, 11, 17 and 18): an export
never writes into the store's own folders, a copied data directory uses its own weights, a
removed or cut weights file is named with its model, and a model left `training` is refused."""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import child_env, model_folder, rows
from tests.support.models import new_model
from upscway.errors import InputError
from upscway.settings import load_settings
from upscway.storage import models as model_rows
from upscway.storage.store import Store


@dataclass(frozen=True)
class Trained:
    data: Path
    model: str
    store: Store

    @property
    def folder(self) -> Path:
        """The model's folder, where the registry says it is."""
        return model_folder(self.store, self.model)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """`upscway ARGS` in a process of its own on this data directory."""
        env = {**child_env(), "UPSCWAY_DATA_DIR": str(self.data), "PREFECT_API_URL": PREFECT_API_URL.value()}
        return subprocess.run(
            [sys.executable, "-m", "upscway.cli", *args], capture_output=True, text=True, env=env, timeout=300
        )


@pytest.fixture
def trained(trained_store) -> Trained:
    """The shared trained store (`trained_store`), copied for this test."""
    store, model = trained_store
    return Trained(store.path.parent, model, store)


def _one_line(done: subprocess.CompletedProcess) -> str:
    """The CLI's error, asserted to be one line and no traceback."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr[-3000:]
    return lines[0]


def test_an_export_refuses_the_stores_own_folders_a_file_and_a_non_empty_folder(trained, tmp_path):
    """Row 10: `--out` another model's folder replaced its weights (exit 0); `--out /dev/null` was a traceback."""
    from upscway.cli.commands import export_model

    other = trained.data / "models" / "demo-other"
    shutil.copytree(trained.folder, other)
    with trained.store.transaction() as conn:
        model_rows.register(
            conn,
            new_model("demo-other", chain="demo", stage="minilm-l3", path=str(other), run_id=None),
        )
        model_rows.finish(conn, "demo-other", "candidate", {})
    os.utime(other / "model.safetensors", ns=(10**18, 10**18))

    into_other = trained.cli("models", "export", trained.model, "--out", str(other))
    assert into_other.returncode == 2 and "own folders" in _one_line(into_other)
    assert (other / "model.safetensors").stat().st_mtime_ns == 10**18  # untouched
    to_null = trained.cli("models", "export", trained.model, "--out", os.devnull)
    assert to_null.returncode == 2 and f"{os.devnull} is not a folder" in _one_line(to_null)

    settings = load_settings()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    (tmp_path / "a-file").write_text("")
    for out, why in (
        (busy, "is not empty"),
        (trained.data / "staging" / "x", "own folders"),
        (trained.data, "own folders"),
        (tmp_path / "a-file" / "x", "cannot create the folder"),
    ):
        with pytest.raises(InputError, match=why):
            export_model(settings, trained.model, out)
    assert (busy / "notes.txt").read_text() == "mine" and not (trained.data / "staging" / "x").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    export_model(settings, trained.model, empty)
    assert (empty / "model.safetensors").read_bytes() == (trained.folder / "model.safetensors").read_bytes()


def test_a_copied_data_directory_uses_and_writes_its_own_models(trained, tmp_path, monkeypatch):
    """Row 11: a `cp -r` copy's rows named the original's folders, so it read and wrote the original's weights."""
    from upscway.cli.commands import quantize_model
    from upscway.flows.evaluate import evaluate

    copy = tmp_path / "copy"
    shutil.copytree(trained.data, copy)
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(copy))

    int8, made = quantize_model(load_settings(), trained.model)  # the original is still there: it must not be written
    assert made and Path(int8.path) == copy / "models" / f"{trained.model}-int8" and Path(int8.path).is_dir()
    assert not (trained.data / "models" / f"{trained.model}-int8").exists()

    trained.data.rename(tmp_path / "moved-away")  # the original gone from where it was
    evaluated = evaluate(model=trained.model, return_state=True).result()
    assert evaluated.model == trained.model and Path(evaluated.report).is_relative_to(copy)
    copied = Store(copy / "upscway.duckdb")
    assert rows(copied, "SELECT id, path FROM models ORDER BY id") == [
        (trained.model, f"models/{trained.model}"),
        (int8.id, f"models/{int8.id}"),
    ]


def test_a_removed_or_cut_model_is_named_and_the_tag_night_falls_back_to_the_teacher(trained, tmp_path):
    """Row 17: a removed folder read as `OSError: Repo id must be in the form…`, cut weights as a
    SafetensorError naming neither the model nor the file."""
    from upscway.flows.tag import tag

    folder = trained.folder
    weights = folder / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])
    cut = trained.cli("run", "evaluate", "--model", trained.model)
    assert cut.returncode == 2, cut.stderr[-3000:]
    assert (
        f"model {trained.model}: its weights {weights} are damaged (cut short" in cut.stderr
        and "Safetensor" not in cut.stderr
    )

    with trained.store.transaction() as conn:
        model_rows.move_alias(conn, "production", trained.model, "promote", "test a missing folder")
    folder.rename(tmp_path / "removed")
    gone = trained.cli("models", "export", trained.model, "--out", str(tmp_path / "out"))
    assert gone.returncode == 2 and f"model {trained.model}: its folder {folder} is missing" in _one_line(gone)

    state = tag(limit=20, return_state=True)
    night = state.result()
    assert state.name == "Fallback" and night.production_model == trained.model
    assert f"model {trained.model}: its folder {folder} is missing" in night.fallback.reason
    assert night.by_student == 0 and night.by_teacher == 20
    assert "Repo id" not in (state.message or "")


def test_a_model_left_training_is_refused_by_promote_evaluate_and_export(trained, tmp_path):
    """Row 18: a distill run stopped by SIGTERM leaves its model `training` (checkpoints, no
    weights); promoting it was not refused and failed inside transformers."""
    from upscway.cli.commands import export_model

    with trained.store.transaction() as conn:
        conn.execute("UPDATE models SET status = 'training' WHERE id = ?", [trained.model])
    (trained.folder / "model.safetensors").unlink()

    for args in (("models", "promote", trained.model), ("run", "evaluate", "--model", trained.model)):
        refused = trained.cli(*args)
        assert refused.returncode == 2, refused.stderr[-3000:]
        assert (
            f"model {trained.model} is still training or interrupted" in refused.stderr
            and "Traceback" not in refused.stderr
        )
    with pytest.raises(InputError, match="still training or interrupted"):
        export_model(load_settings(), trained.model, tmp_path / "out")
    assert rows(trained.store, "SELECT count(*) FROM evaluations") == [(0,)]
