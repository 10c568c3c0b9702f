"""The model registry as people use it: the list, one model, its export (a causal-LM
student's adapter merged into full weights, what vLLM serves) and its INT8 variant."""

from __future__ import annotations

from pathlib import Path

from upscway.errors import InputError
from upscway.storage import models as model_rows
from upscway.storage.store import Store
from upscway.tasks.annotate.taxonomy import TaskDefinition
from upscway.tasks.distill.kinds import student_kind
from upscway.tasks.distill.quantize import quantize_model


def list_models(store: Store) -> tuple[list[str], list[tuple]]:
    with store.reader() as conn:
        return model_rows.list_models(conn)


def model(store: Store, model_id: str) -> model_rows.ModelRecord:
    """The model with this id, or with the one id that starts with it (as git takes a commit)."""
    with store.reader() as conn:
        found = model_rows.get(conn, model_id)
        if found is not None:
            return found
        matches = model_rows.ids_starting(conn, model_id) if model_id else []
        if len(matches) == 1:
            return model_rows.get(conn, matches[0])
    if matches:
        shown = ", ".join(matches[:10]) + (", …" if len(matches) > 10 else "")
        raise InputError(f"model id {model_id!r} is ambiguous: it starts {shown}")
    raise InputError(f"no model {model_id!r} in the registry (see `upscway models list`)")


def export_model(store: Store, model_id: str, out: Path) -> None:
    found = model(store, model_id)
    if found.status != "candidate":
        raise InputError(f"model {model_id} is {found.status}, not a trained candidate")
    student_kind(found.kind).export(found, out)


def quantize_int8(store: Store, model_id: str, task_def: TaskDefinition) -> tuple[model_rows.ModelRecord, bool]:
    """The INT8 variant of the model (made and registered unless it exists) and whether it is new."""
    return quantize_model(store, model(store, model_id), task_def)
