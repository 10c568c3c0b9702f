"""A model row to register in tests, with the fields a test does not look at filled in."""

from upscway.storage.models import ModelRecord, NewModel

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


def model_record(path, kind: str = "encoder") -> ModelRecord:
    """A registered candidate's record as read back, its folder at `path`."""
    return ModelRecord(
        id="demo-s-1",
        chain="demo",
        stage="s",
        kind=kind,
        base_model="base",
        path=str(path),
        teacher="t",
        task="upsc_gs",
        prompt_version="v",
        config={},
        metrics={},
        status="candidate",
        alias=None,
        created_at=None,
    )
