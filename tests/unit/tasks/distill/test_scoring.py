"""A registered student as a teacher: the settings that run it, without loading a model."""

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from tests.support.models import model_record
from upscway.settings import TeacherSettings
from upscway.storage.models import ModelRecord
from upscway.tasks.distill.scoring import as_teacher


def _model(kind: str, path: Path) -> ModelRecord:
    return model_record(path, kind)


def _weights(file: Path) -> None:
    """A small whole weights file: the folder checks read its header, nothing loads it."""
    save_file({"w": np.zeros(4, dtype=np.float32)}, str(file))


def test_an_encoder_student_teaches_as_the_encoder_backend_under_its_model_id(tmp_path):
    _weights(tmp_path / "model.safetensors")
    settings = as_teacher(_model("encoder", tmp_path), TeacherSettings(batch_size=7))
    assert (settings.backend, settings.local_model, settings.annotator, settings.batch_size) == (
        "encoder",
        tmp_path,
        "model:demo-s-1",
        7,
    )


def test_a_causal_student_teaches_from_its_merged_folder_merged_once(tmp_path):
    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "config.json").write_text("{}")  # already merged: nothing to load or merge
    _weights(merged / "model.safetensors")
    _weights(tmp_path / "adapter_model.safetensors")
    settings = as_teacher(_model("causal-lm", tmp_path), TeacherSettings())
    assert (settings.backend, settings.local_model, settings.annotator) == ("transformers", merged, "model:demo-s-1")
