"""Train one student with the KD loss; runs on its own, with or without Prefect.

    python -m upscway.tasks.distill.train data/models/<id>/train_config.json          # CPU or one GPU
    accelerate launch --config_file deployments/accelerate/multi_gpu.yaml \\
        -m upscway.tasks.distill.train data/models/<id>/train_config.json             # several GPUs

The config (a `TrainConfig` as JSON) names the examples (JSON lines written by the distill
flow), the student and the hyper-parameters. Checkpoints go to `<out_dir>/checkpoints` every
`save_steps`; started again after a crash, training resumes from the last checkpoint. The
result is the student in `<out_dir>` (full weights for an encoder, a PEFT adapter for a causal
LM) and `<out_dir>/metrics.json`.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from pydantic import BaseModel, ConfigDict, model_validator

from upscway.settings import TrainingSettings
from upscway.tasks.distill.calibration import calibrate as calibrate_on
from upscway.tasks.distill.dataset import Example
from upscway.tasks.distill.kinds import Head, KindName, student_kind
from upscway.taxonomy import DEFAULT_TASK_FILE, TaskDefinition, load_task

if TYPE_CHECKING:
    from upscway.tasks.distill.trainer import ExampleDataset, KDTrainer

LOGGER = logging.getLogger(__name__)


class TrainConfig(BaseModel):
    """One training run: which student on which examples of which task (the definition itself,
    so a task file edited later cannot change what a resumed run learns), and the trainer's
    knobs (`training`, the `[distill]` settings' TrainingSettings, read by the trainer as they are)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: KindName
    student: str  # base model: packaged MiniLM name, folder or hub id
    out_dir: str
    train_file: str
    validation_file: str
    task: TaskDefinition
    keep_layers: int | None = None
    head: Head = "linear"
    warm_start: str | None = None  # a student folder of this stage: its weights replace the base's before training
    seed: int = 0
    training: TrainingSettings = TrainingSettings()

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        """A config written before `training` and `task` were in it had the knobs at the top and
        named the task file."""
        if isinstance(data, dict) and "training" not in data:
            knobs = {k: data[k] for k in TrainingSettings.model_fields if k in data}
            data = {**{k: v for k, v in data.items() if k not in knobs}, "training": knobs}
        if isinstance(data, dict) and "task" not in data:
            data = {
                **{k: v for k, v in data.items() if k != "task_file"},
                "task": load_task(data.get("task_file", DEFAULT_TASK_FILE)),
            }
        return data

    @classmethod
    def load(cls, path: Path | str) -> TrainConfig:
        return cls.model_validate_json(Path(path).read_text())

    def save(self, path: Path | str) -> None:
        Path(path).write_text(self.model_dump_json(indent=2))

    def rehomed(self, folder: Path) -> TrainConfig:
        """This run in `folder`, its examples in the same place under it: a run folder that moved
        with its data directory (copied, restored) trains there, not where it was written."""
        before = Path(self.out_dir)

        def moved(file: str) -> str:
            return str(folder / Path(file).relative_to(before)) if Path(file).is_relative_to(before) else file

        return self.model_copy(
            update={
                "out_dir": str(folder),
                "train_file": moved(self.train_file),
                "validation_file": moved(self.validation_file),
            }
        )


def write_examples(path: Path, examples: list[Example]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for e in examples:
            out.write(json.dumps(asdict(e), ensure_ascii=False) + "\n")


def read_examples(path: Path | str) -> list[Example]:
    with open(path, encoding="utf-8") as lines:
        return [
            Example(**{**json.loads(line), "teacher_logprobs": tuple(json.loads(line)["teacher_logprobs"])})
            for line in lines
            if line.strip()
        ]


def _log_every(examples: int, config: TrainConfig) -> int:
    """Every 10 steps, or more often in a short run, so that its loss curve has ten points."""
    steps = math.ceil(examples / config.training.batch_size) * config.training.epochs
    return max(1, min(10, int(steps // 10)))


@torch.inference_mode()
def _agreement(trainer: KDTrainer, dataset: ExampleDataset, calibrate: bool) -> dict[str, float]:
    """Agreement with the teacher (and gold, where known) on the validation split; with
    `calibrate` (an encoder student: its scorer applies the temperature), the temperature that
    calibrates it there and its calibrated confidences (what the night's chunks are compared
    with to notice drift)."""
    if len(dataset) == 0:
        return {}
    return _agreement_of(torch.as_tensor(trainer.predict(dataset).predictions).float(), dataset.examples, calibrate)


def _agreement_of(logits: torch.Tensor, examples: list[Example], calibrate: bool) -> dict[str, float]:
    if not examples:
        return {}
    predicted = logits.argmax(-1).tolist()
    teacher = [max(range(len(e.teacher_logprobs)), key=e.teacher_logprobs.__getitem__) for e in examples]
    gold = [(p, e.gold) for p, e in zip(predicted, examples) if e.gold >= 0]
    result = {"validation_agreement_with_teacher": sum(p == t for p, t in zip(predicted, teacher)) / len(predicted)}
    if calibrate:
        result.update(calibrate_on(logits.numpy(), examples))
    if gold:
        result["validation_gold_accuracy"] = sum(p == g for p, g in gold) / len(gold)
    return result


def _train_probe(config: TrainConfig, say: Callable[[str], None]) -> dict:
    """A `head: probe` student: the layer fitted on cached sentence vectors (probe_fit.py), no
    Trainer, no checkpoints (a fit takes seconds; a killed one starts again)."""
    from upscway.tasks.distill.probe_fit import fit_probe, probe_logits

    knobs, out = config.training, Path(config.out_dir)
    student = student_kind(config.kind).load_for_training(
        config.student, config.task, config.keep_layers, knobs.lora, config.head
    )
    model, tokenizer = student.model, student.tokenizer
    train_examples, validation = read_examples(config.train_file), read_examples(config.validation_file)
    fitted = fit_probe(model, tokenizer, train_examples, knobs) if knobs.epochs and train_examples else {}
    if fitted:  # the fit starts from zero: a warm start has nothing to give a convex fit
        say(
            f"{out.name}: probe fitted on {len(train_examples)} examples in {fitted['probe_iterations']} L-BFGS steps, "
            f"loss {fitted['probe_loss_before']:.3f} -> {fitted['probe_loss_after']:.3f}"
        )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    metrics = {
        "kind": config.kind,
        "student": config.student,
        "keep_layers": config.keep_layers,
        "head": config.head,
        "train_examples": len(train_examples),
        "validation_examples": len(validation),
        "resumed_from_checkpoint": False,
        "steps": fitted.get("probe_iterations", 0),
        "train_seconds": 0.0,
        **fitted,
        "parameters": sum(p.numel() for p in model.parameters()),
        **_agreement_of(probe_logits(model, tokenizer, validation, knobs.max_length), validation, calibrate=True),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint that was written to the end (the Trainer writes its
    `trainer_state.json` last); partial ones, left by a kill mid-save, are removed."""
    complete = None
    for path in sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[-1])):
        if (path / "trainer_state.json").exists():
            complete = path
        else:
            LOGGER.warning("removing incomplete checkpoint %s", path)
            shutil.rmtree(path, ignore_errors=True)
    return complete


def train(
    config: TrainConfig, say: Callable[[str], None] = LOGGER.info, advance: Callable[[int, int], None] | None = None
) -> dict:
    """Train (or resume) and return the metrics also written to `metrics.json`. `say` gets the
    progress in sentences, `advance(step, total)` the step count (see `TrainingReport`)."""
    # The trainer stack (transformers' Trainer, peft: seconds to import) only where a model trains.
    from transformers import TrainingArguments

    from upscway.tasks.distill.trainer import ExampleDataset, KDCollator, TrainingReport

    torch.manual_seed(config.seed)
    if config.head == "probe":
        return _train_probe(config, say)
    task, kind, knobs = config.task, student_kind(config.kind), config.training
    out = Path(config.out_dir)
    student = kind.load_for_training(config.student, task, config.keep_layers, knobs.lora, config.head)
    model, tokenizer, render = student.model, student.tokenizer, student.render
    if config.warm_start:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(Path(config.warm_start) / "model.safetensors")))
    max_length = None if render else knobs.max_length
    train_data = ExampleDataset(read_examples(config.train_file), tokenizer, max_length, render)
    validation = ExampleDataset(read_examples(config.validation_file), tokenizer, max_length, render)
    checkpoints = out / "checkpoints"
    args = TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=knobs.batch_size,
        per_device_eval_batch_size=knobs.batch_size,
        num_train_epochs=knobs.epochs,
        learning_rate=knobs.learning_rate,
        warmup_steps=knobs.warmup_ratio,  # a float below 1 is a share of the steps
        save_strategy="steps",
        save_steps=knobs.save_steps,
        save_total_limit=2,
        logging_steps=_log_every(len(train_data), config),
        report_to=[],
        remove_unused_columns=False,
        seed=config.seed,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
    )
    trainer = student.trainer_class(
        model=model,
        args=args,
        train_dataset=train_data,
        data_collator=KDCollator(tokenizer),
        temperature=knobs.temperature,
        alpha=knobs.alpha,
        confidence_weighting=knobs.confidence_weighting,
        gatekeeper=knobs.gatekeeper,
        callbacks=[TrainingReport(out.name, say, advance)],
        **student.trainer_kwargs,
    )
    resume = last_complete_checkpoint(checkpoints)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None) if knobs.epochs else None
    seconds = time.perf_counter() - started
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    history = trainer.loss_history
    metrics = {
        "kind": config.kind,
        "student": config.student,
        "keep_layers": config.keep_layers,
        "head": config.head,
        "train_examples": len(train_data),
        "validation_examples": len(validation),
        "resumed_from_checkpoint": resume is not None,
        "steps": result.global_step if result else 0,
        "train_seconds": round(seconds, 2),
        "train_loss": result.training_loss if result else None,
        "first_kd": history[0]["kd"] if history else None,
        "last_kd": history[-1]["kd"] if history else None,
        "first_ce": history[0]["ce"] if history else None,
        "last_ce": history[-1]["ce"] if history else None,
        "loss_curve": trainer.loss_curve,
        "parameters": sum(p.numel() for p in model.parameters()),
        **_agreement(trainer, validation, calibrate=kind.calibrated),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: python -m upscway.tasks.distill.train TRAIN_CONFIG.json")
    print(json.dumps(train(TrainConfig.load(argv[0]), say=print), indent=2))


if __name__ == "__main__":
    main()
