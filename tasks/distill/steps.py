"""The distill stage as Prefect tasks: prepare a stage's data and registry row, then train."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

from prefect import get_run_logger, task

from upscway import progress
from upscway.errors import InputError
from upscway.settings import DistillSettings
from upscway.storage import models as registry
from upscway.storage.layout import DataLayout
from upscway.storage.store import Store
from upscway.tasks.annotate.taxonomy import TaskDefinition
from upscway.tasks.distill.chains import Stage
from upscway.tasks.distill.dataset import build_splits
from upscway.tasks.distill.train import TrainConfig, train, write_examples


@task(name="prepare-stage")
def prepare_stage(
    store: Store, layout: DataLayout, run_id: str, chain: str, stage: Stage, task_def: TaskDefinition,
    teacher: str, settings: DistillSettings,
) -> tuple[str, str]:
    """Write the stage's examples and training config, register the model; returns (model id,
    config path). An interrupted training of the same stage and teacher is picked up again."""
    with store.reader() as conn:
        resumable = registry.unfinished(conn, chain, stage.name, teacher)
    if resumable and (Path(resumable[1]) / "train_config.json").exists():
        get_run_logger().info("resuming the interrupted training of %s", resumable[0])
        return resumable[0], str(Path(resumable[1]) / "train_config.json")
    with store.reader() as conn:
        splits = build_splits(conn, task_def, teacher, task_def.version, settings.eval_fraction, settings.validation_fraction)
    if not splits.train:
        raise InputError(f"no training examples with labels from {teacher!r} for prompt {task_def.version}: run annotate first")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    model_id = f"{chain}-{stage.name}-{stamp}-{uuid.uuid4().hex[:4]}"
    out = layout.models / model_id
    (out / "data").mkdir(parents=True)
    for name in ("train", "validation", "eval"):
        write_examples(out / "data" / f"{name}.jsonl", getattr(splits, name))
    config = TrainConfig(
        kind=stage.kind, student=stage.student, keep_layers=stage.keep_layers, out_dir=str(out),
        train_file=str(out / "data" / "train.jsonl"), validation_file=str(out / "data" / "validation.jsonl"),
        temperature=settings.temperature, alpha=settings.alpha, learning_rate=settings.learning_rate, epochs=settings.epochs,
        batch_size=settings.batch_size, max_length=settings.max_length, save_steps=settings.save_steps,
        lora=settings.lora.model_dump(mode="json"),
    )
    config.save(out / "train_config.json")
    with store.transaction() as conn:
        registry.register(
            conn, model_id=model_id, chain=chain, stage=stage.name, kind=stage.kind, base_model=stage.student, path=str(out),
            teacher=teacher, task=task_def.name, prompt_version=task_def.version, config={**json.loads(Path(out / "train_config.json").read_text()), "splits": splits.counts()},
            run_id=run_id,
        )
        registry.record_examples(conn, model_id, [(e.chunk_id, "train") for e in splits.train] + [(e.chunk_id, "validation") for e in splits.validation])
    counts = splits.counts()
    get_run_logger().info(
        "stage %s: %d training, %d validation and %d evaluation examples for %s",
        stage.name, counts["train"], counts["validation"], counts["eval"], model_id,
    )
    return model_id, str(out / "train_config.json")


@task(name="train-student")
def train_student(store: Store, model_id: str, config_path: str, stage: str) -> dict:
    """Train in this process (CPU or one GPU); the registry row becomes a candidate. Progress
    goes to the run's log in sentences and to this process's progress listeners."""
    logger = get_run_logger()
    try:
        metrics = train(TrainConfig.load(config_path), say=logger.info, advance=lambda done, total: progress.report(f"train {stage}", done, total))
    except Exception as exc:
        with store.transaction() as conn:
            registry.finish(conn, model_id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        raise
    with store.transaction() as conn:
        registry.finish(conn, model_id, "candidate", metrics)
    logger.info(
        "%s is a candidate: validation agreement with its teacher %.3f, gold accuracy %s", model_id,
        metrics.get("validation_agreement_with_teacher", float("nan")),
        f"{metrics['validation_gold_accuracy']:.3f}" if "validation_gold_accuracy" in metrics else "n/a (no gold in validation)",
    )
    return metrics
