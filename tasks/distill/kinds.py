"""The one switch on a student's kind: how an `encoder` or a `causal-lm` student is loaded for
training, which trainer trains it, whether its scores are calibrated, which folder scores
with it and how it is exported. Everything else takes a `StudentKind` from `student_kind()`.

Heavy libraries are imported when a method needs them, so choosing a kind loads nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from upscway.errors import InputError
from upscway.settings import LoraSettings
from upscway.storage.models import ModelRecord
from upscway.tasks.distill.folders import check_folder
from upscway.taxonomy import TaskDefinition

KindName = Literal["encoder", "causal-lm"]
Head = Literal["linear", "prototype", "probe"]  # an encoder's head: tasks/annotate/prototypes.py, probe.py


@dataclass
class Loaded:
    """A student ready to train: the model, its tokenizer, how a chunk becomes its input (None:
    the text itself), the trainer class and the trainer's extra arguments."""

    model: Any
    tokenizer: Any
    render: Callable[[str], str] | None
    trainer_class: type
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)


class StudentKind:
    name: KindName
    calibrated: bool  # the scorer divides its logits by the temperature fitted on validation
    teacher_backend: str  # the `teacher.backend` that runs it as a teacher

    def load_for_training(
        self, student: str, task: TaskDefinition, keep_layers: int | None, lora: LoraSettings, head: Head = "linear"
    ) -> Loaded:
        raise NotImplementedError

    def scoring_folder(self, model: ModelRecord) -> Path:
        """The folder that scores with the model (a causal LM's adapter is merged once first);
        a ModelFilesError naming the model and the path when its files are missing or damaged."""
        return check_folder(model)

    def export(self, model: ModelRecord, out: Path) -> None:
        raise NotImplementedError


class Encoder(StudentKind):
    name, calibrated, teacher_backend = "encoder", True, "encoder"

    def load_for_training(self, student, task, keep_layers, lora, head="linear"):
        from upscway.tasks.distill.encoder import load_encoder_student
        from upscway.tasks.distill.trainer import KDTrainer

        model, tokenizer = load_encoder_student(student, task.names, keep_layers, head, task)
        return Loaded(model, tokenizer, None, KDTrainer)

    def export(self, model, out):
        shutil.copytree(
            check_folder(model), out, ignore=shutil.ignore_patterns("checkpoints", "data", "merged"), dirs_exist_ok=True
        )


class CausalLM(StudentKind):
    name, calibrated, teacher_backend = "causal-lm", False, "transformers"

    def load_for_training(self, student, task, keep_layers, lora, head="linear"):
        import torch

        from upscway.tasks.distill.causal_lm import (
            CausalLMKDTrainer,
            label_token_ids,
            load_causal_student,
            prompt_renderer,
        )

        model, tokenizer = load_causal_student(student, lora, gradient_checkpointing=torch.cuda.is_available())
        return Loaded(
            model,
            tokenizer,
            prompt_renderer(task, tokenizer),
            CausalLMKDTrainer,
            {"label_token_ids": label_token_ids(task, tokenizer)},
        )

    def scoring_folder(self, model):
        merged = check_folder(model) / "merged"
        if not (merged / "config.json").exists():
            self.export(model, merged)
        return check_folder(model, merged)

    def export(self, model, out):
        from upscway.tasks.distill.causal_lm import merge_adapter

        merge_adapter(model.base_model, check_folder(model), out)


KINDS: dict[str, StudentKind] = {kind.name: kind for kind in (Encoder(), CausalLM())}


def student_kind(name: str) -> StudentKind:
    try:
        return KINDS[name]
    except KeyError:
        raise InputError(f"unknown student kind {name!r}: expected {' or '.join(KINDS)}") from None
