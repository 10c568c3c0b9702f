"""INT8 students: a registered encoder student quantized into a new registry entry.

Torch's dynamic quantization (every linear layer's weights stored as INT8, activations
quantized on the fly; the embedding tables, most of a small MiniLM's bytes, as 8-bit weights) was chosen over ONNX Runtime's on this CPU by measurement (docs/how-to/int8-students.md,
"INT8 students"): the same accuracy within noise, and it needs no export step and no new
dependency. The variant keeps its parent's tokenizer and config, is trained on exactly the
parent's chunks (its `training_examples` are the parent's, so the certificate's held-out data
stay held out), and gets its own temperature, refitted on the parent's validation split, since
quantization moves the logits a little. It is a candidate like any other: evaluate, certify and
promote it by its id; the scorer (`EncoderTeacher`) loads it on CPU.

torch and transformers are imported when a function needs them: the registry, and so every
CLI command, imports this module, and they cost seconds to import.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from upscway.errors import InputError
from upscway.storage import models as model_rows
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.tasks.distill.calibration import calibrate
from upscway.tasks.distill.dataset import Example
from upscway.tasks.distill.folders import check_folder
from upscway.taxonomy import TaskDefinition

if TYPE_CHECKING:
    import torch

METHOD = "torch-dynamic-int8"
NOT_COPIED = ("checkpoints", "data", "merged", "*.safetensors", "*.bin", "metrics.json")


def parameter_count(model: torch.nn.Module) -> int:
    """Parameters of a float or quantized model (a quantized linear or embedding layer keeps its
    weights packed, outside `parameters()`)."""
    count = sum(p.numel() for p in model.parameters())
    for module in model.modules():
        if hasattr(module, "_packed_params") and callable(getattr(module, "weight", None)):
            bias = module.bias() if callable(getattr(module, "bias", None)) else None
            count += module.weight().numel() + (bias.numel() if bias is not None else 0)
    return count


def folder_size_mb(folder: Path | str) -> float:
    """What a model folder's own files weigh (not its checkpoints or training data)."""
    return round(sum(f.stat().st_size for f in Path(folder).glob("*") if f.is_file()) / 1e6, 2)


def write_int8(source: Path | str, out: Path | str) -> Path:
    """The encoder classifier in `source` quantized into `out` (its config and tokenizer
    copied, the INT8 weights in QUANTIZED_WEIGHTS); written beside and renamed, so a
    half-written folder never looks like a model."""
    import torch

    from upscway.tasks.annotate.encoder_teacher import (
        QUANTIZED_WEIGHTS,
        load_classifier,
        quantize_dynamic_int8,
        quiet_quantized,
    )

    source, out = Path(source), Path(out)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, ignore=shutil.ignore_patterns(*NOT_COPIED, QUANTIZED_WEIGHTS))
    model = quantize_dynamic_int8(load_classifier(source))
    with quiet_quantized():
        torch.save(model.state_dict(), partial / QUANTIZED_WEIGHTS)
    partial.rename(out)
    return out


def int8_calibration(folder: Path, validation: list[Example], task_def: TaskDefinition) -> dict:
    """The INT8 student's own temperature and agreement with its teacher on `validation` (its
    parent's validation split), its parameter count and size."""
    from upscway.tasks.annotate.encoder_teacher import EncoderTeacher

    scorer = EncoderTeacher(task_def, folder, annotator_id="int8-calibration")
    metrics: dict = {}
    if validation:
        probs = np.asarray([a.probs for a in scorer.annotate([e.text for e in validation])])
        logits = np.log(np.clip(probs, 1e-12, 1.0))  # log-softmax: the logits up to a per-row constant
        teacher = [int(np.argmax(e.teacher_logprobs)) for e in validation]
        metrics["validation_agreement_with_teacher"] = float(np.mean(logits.argmax(axis=1) == np.asarray(teacher)))
        metrics.update(calibrate(logits, validation))
    return {**metrics, "parameters": parameter_count(scorer.model), "size_on_disk_mb": folder_size_mb(folder)}


def quantize_model(
    store: Store, parent: ModelRecord, task_def: TaskDefinition, run_id: str | None = None
) -> tuple[ModelRecord, bool]:
    """The INT8 variant of `parent`, registered as a candidate with `parent_id` = its id;
    returns it and whether it was made now (False: it existed already and is returned as is)."""
    if parent.kind != "encoder":
        raise InputError(
            f"model {parent.id} is a {parent.kind} student: INT8 quantization is for encoder students "
            "(a causal LM is quantized by its server, e.g. vLLM, from `upscway models export`)"
        )
    if parent.status != "candidate":
        raise InputError(f"model {parent.id} is {parent.status}, not a trained candidate")
    if parent.parent_id is not None:
        raise InputError(
            f"model {parent.id} is already derived from {parent.parent_id} ({parent.config.get('quantization')})"
        )
    model_id = f"{parent.id}-int8"
    out = Path(parent.path).with_name(model_id)
    with store.reader() as conn:
        existing = model_rows.derived(conn, parent.id, str(out))
        if existing is not None:
            return model_rows.get(conn, existing), False
    if out.exists():
        shutil.rmtree(out)  # left by an attempt that did not register it
    from upscway.tasks.distill.train import read_examples

    write_int8(check_folder(parent), out)
    validation = read_examples(Path(parent.path) / "data" / "validation.jsonl")
    metrics = {
        "parent": parent.id,
        "quantization": METHOD,
        "train_examples": parent.metrics.get("train_examples"),
        "parent_metrics": parent.metrics,
        **int8_calibration(out, validation, task_def),
    }
    with store.transaction() as conn:
        model_rows.register(
            conn,
            model_rows.NewModel(
                model_id=model_id,
                chain=parent.chain,
                stage=f"{parent.stage}-int8",
                kind="encoder",
                base_model=parent.base_model,
                path=str(out),
                teacher=parent.teacher,
                task=parent.task,
                prompt_version=parent.prompt_version,
                config={**parent.config, "quantization": METHOD, "parent": parent.id},
                run_id=run_id,
                parent_id=parent.id,
            ),
        )
        model_rows.copy_examples(conn, model_id, parent.id)
        model_rows.finish(conn, model_id, "candidate", metrics)
        return model_rows.get(conn, model_id), True
