"""The registry as people use it: a model by id, and an export that leaves training files out."""

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.support.models import new_model
from upscway.errors import InputError
from upscway.storage import models as repo
from upscway.tasks.registry import export_model, model


def _register(store, path, status="candidate"):
    with store.transaction() as conn:
        repo.register(
            conn,
            new_model("m1", path=str(path), config={"epochs": 3}),
        )
        if status != "training":
            repo.finish(conn, "m1", status, {"steps": 12})


def test_a_model_is_a_record_with_its_config_and_metrics_parsed(store, tmp_path):
    _register(store, tmp_path)
    found = model(store, "m1")
    assert (found.kind, found.status, found.config, found.metrics.stored()) == (
        "encoder",
        "candidate",
        {"epochs": 3},
        {"steps": 12},
    )
    with pytest.raises(InputError, match="no model 'nope'"):
        model(store, "nope")


def test_a_unique_prefix_names_a_model_and_an_ambiguous_one_is_refused(store, tmp_path):
    for model_id in ("demo-l3-20261124-ab12", "demo-l3-20261124-cd34", "demo-l6-20261124-ef56"):
        with store.transaction() as conn:
            repo.register(
                conn,
                new_model(model_id, chain="demo", path=str(tmp_path)),
            )
    assert model(store, "demo-l6").id == "demo-l6-20261124-ef56"
    assert model(store, "demo-l3-20261124-cd").id == "demo-l3-20261124-cd34"
    with pytest.raises(InputError, match="ambiguous: it starts demo-l3-20261124-ab12, demo-l3-20261124-cd34"):
        model(store, "demo-l3")


def test_an_encoder_export_copies_the_weights_without_checkpoints_or_data(store, tmp_path):
    folder = tmp_path / "m1"
    for name in ("model.safetensors", "config.json", "checkpoints/checkpoint-5/x", "data/train.jsonl"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name)
    save_file(
        {"w": np.zeros(4, dtype=np.float32)}, str(folder / "model.safetensors")
    )  # whole: an export checks the weights
    _register(store, folder)
    export_model(store, "m1", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["config.json", "model.safetensors"]


def test_only_a_trained_candidate_is_exported(store, tmp_path):
    _register(store, tmp_path, status="training")
    with pytest.raises(InputError, match="is still training or interrupted"):
        export_model(store, "m1", tmp_path / "out")
