"""A model row to register in tests, with the fields a test does not look at filled in."""

from upscway.storage.models import NewModel

DEFAULTS = {
    "chain": "c",
    "stage": "s",
    "kind": "encoder",
    "base_model": "b",
    "path": "p",
    "teacher": "t",
    "task": "upsc_gs",
    "prompt_version": "v",
    "config": {},
    "run_id": "r",
}


def new_model(model_id: str, **fields) -> NewModel:
    return NewModel(model_id=model_id, **{**DEFAULTS, **fields})
