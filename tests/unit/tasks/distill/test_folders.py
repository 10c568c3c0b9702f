"""A model folder removed or its weights cut short: one line naming the model and the path,
before a library says "Repo id must be in the form…" or "header too large" (issue 30, row 17)."""

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.support.models import model_record
from upscway.errors import InputError
from upscway.storage.models import ModelRecord
from upscway.tasks.distill.folders import ModelFilesError, check_folder, loading, safetensors_problem
from upscway.tasks.distill.scoring import student_scorer
from upscway.taxonomy import load_task


def _model(path, kind="encoder") -> ModelRecord:
    return model_record(path, kind)


def _weights(folder, name="model.safetensors"):
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.ones((64, 64), dtype=np.float32)}, str(folder / name))
    return folder / name


def test_a_whole_file_passes_and_a_cut_one_is_named(tmp_path):
    file = _weights(tmp_path / "m")
    assert safetensors_problem(file) is None and check_folder(_model(tmp_path / "m")) == tmp_path / "m"
    whole = file.read_bytes()
    for cut in (len(whole) - 100, 40, 4):  # in the data, in the header, before the header's length
        file.write_bytes(whole[:cut])
        with pytest.raises(ModelFilesError, match=rf"^model demo-s-1: its weights {file} are damaged \(.*\)") as caught:
            check_folder(_model(tmp_path / "m"))
        assert "\n" not in str(caught.value)


def test_a_missing_folder_is_named_before_transformers_reads_it_as_a_hub_id(tmp_path):
    gone = tmp_path / "models" / "demo-s-1"
    for kind in ("encoder", "causal-lm"):
        with pytest.raises(InputError, match=rf"^model demo-s-1: its folder {gone} is missing") as caught:
            student_scorer(_model(gone, kind), load_task())
        assert "Repo id" not in str(caught.value)
    (gone / "checkpoints").mkdir(parents=True)  # what a training stopped early leaves
    with pytest.raises(ModelFilesError, match="holds no weights"):
        check_folder(_model(gone))


def test_a_load_that_fails_anyway_names_the_model_and_the_folder(tmp_path):
    from safetensors import SafetensorError

    for error in (
        SafetensorError("Error while deserializing header: HeaderTooLarge"),
        OSError("Unable to load weights"),
    ):
        with pytest.raises(ModelFilesError, match=rf"^model demo-s-1 cannot be loaded from {tmp_path}: \w+: "):
            with loading(_model(tmp_path), tmp_path):
                raise error
