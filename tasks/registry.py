"""The model registry as people use it: the list, one model, its export (a causal-LM
student's adapter merged into full weights, what vLLM serves) and its INT8 variant."""

from __future__ import annotations

from pathlib import Path

from upscway.errors import InputError
from upscway.storage import models as model_rows
from upscway.storage.layout import DataLayout
from upscway.storage.store import Store
from upscway.tasks.distill.kinds import student_kind
from upscway.tasks.distill.quantize import quantize_model
from upscway.taxonomy import TaskDefinition


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


def ready_model(store: Store, model_id: str) -> model_rows.ModelRecord:
    """The model, if it is a trained candidate: what may be evaluated, promoted, exported or
    quantized. A `training` row is a run still going or one stopped before it finished (its
    folder holds checkpoints, not a model); a `failed` one never finished."""
    found = model(store, model_id)
    if found.status == "training":
        raise InputError(
            f"model {found.id} is still training or interrupted (a run stopped before it finished): resume it with "
            f"`upscway run distill --chain {found.chain} --stage {found.stage}`, or use a candidate (`upscway models list`)"
        )
    if found.status != "candidate":
        error = (str(found.metrics.get("error") or "").splitlines() or [""])[0]
        raise InputError(
            f"model {found.id} is {found.status}, not a trained candidate" + (f" ({error})" if error else "")
        )
    return found


def export_folder(out: Path, layout: DataLayout) -> Path:
    """`out`, created, if a model may be exported into it: a new or empty folder outside the
    store's own folders (an export never overwrites a registered model or anything else)."""
    if layout.owns(out):
        raise InputError(
            f"{out} is in the store's own folders (data directory {layout.root}): export to a folder outside them"
        )
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is not a folder: export to a new or empty folder")
    if out.is_dir() and any(out.iterdir()):
        raise InputError(f"{out} is not empty: export to a new or empty folder (nothing in it was changed)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder {out}: {exc.strerror}") from None
    return out


def export_model(store: Store, model_id: str, out: Path) -> None:
    found = ready_model(store, model_id)
    student_kind(found.kind).export(found, export_folder(out, DataLayout(store.path.parent)))


def quantize_int8(store: Store, model_id: str, task_def: TaskDefinition) -> tuple[model_rows.ModelRecord, bool]:
    """The INT8 variant of the model (made and registered unless it exists) and whether it is new."""
    return quantize_model(store, ready_model(store, model_id), task_def)
