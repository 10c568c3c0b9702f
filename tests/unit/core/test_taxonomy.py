"""The task definition names its "serves none" label; naming the first one is the default spelt
out and keeps the version, so answers stored before the field existed still match."""

import pytest
import yaml

from upscway.errors import InputError
from upscway.taxonomy import TaskDefinition, load_task


def _with(**changes) -> TaskDefinition:
    return TaskDefinition.model_validate({**load_task().model_dump(), **changes})


def test_not_relevant_is_a_label_and_its_index_is_where_it_stands(tmp_path):
    task = load_task()
    assert task.not_relevant == "NOT_RELEVANT" and task.not_relevant_index == 0
    moved = _with(labels=[*task.model_dump()["labels"][1:], task.model_dump()["labels"][0]])
    assert (
        moved.not_relevant_index == 4 and "when it serves none, answer A" in moved.system_prompt()
    )  # A is still its letter
    bad = tmp_path / "task.yaml"
    bad.write_text(yaml.safe_dump({**task.model_dump(mode="json"), "not_relevant": "NONE"}))
    with pytest.raises(
        InputError, match=r"task file .*task.yaml is invalid: .*not_relevant 'NONE' is not one of the labels"
    ):
        load_task(bad)


def test_naming_the_first_label_keeps_the_version():
    task = load_task()
    assert _with(not_relevant=None).version == task.version
    assert _with(labels=[*task.model_dump()["labels"][1:], task.model_dump()["labels"][0]]).version != task.version
