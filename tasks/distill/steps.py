"""The distill stage as Prefect tasks: prepare a stage's data and registry row, then train."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefect import get_run_logger, task

from upscway import progress
from upscway.errors import InputError
from upscway.records import PRODUCTION
from upscway.settings import DistillSettings, Settings, TeacherSettings
from upscway.storage import annotations as annotation_rows
from upscway.storage import models as model_rows
from upscway.storage.layout import DataLayout
from upscway.storage.store import Store
from upscway.summaries import DistillSummary
from upscway.tasks.annotate.steps import annotate_pending
from upscway.tasks.annotate.teacher import Teachers
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.distill.chains import Stage, load_chain
from upscway.tasks.distill.dataset import build_splits
from upscway.tasks.distill.ownership import claim_interrupted, registering
from upscway.tasks.distill.scoring import as_teacher
from upscway.tasks.distill.train import TrainConfig, train, write_examples
from upscway.taxonomy import TaskDefinition


def teacher_of_stage(
    store: Store,
    run_id: str,
    chain: str,
    stage: Stage,
    task_def: TaskDefinition,
    teacher: TeacherSettings,
    resources: Teachers,
) -> str:
    """The annotator id whose labels `stage` learns from (`{teacher}`: the profile's teacher's).
    A stage taught by an earlier stage first has that stage's latest student relabel every
    chunk (stored as `model:<id>`)."""
    if stage.teacher.annotations:
        return stage.teacher.annotator(annotator_of(teacher))
    with store.reader() as conn:
        model = model_rows.latest_of_stage(conn, chain, stage.teacher.stage)
    if model is None:
        raise InputError(
            f"stage {stage.name} is taught by stage {stage.teacher.stage!r}, which has no trained candidate yet"
        )
    settings = as_teacher(model, teacher)
    annotate_pending(store, run_id, settings, task_def, resources)
    return settings.annotator


def retraining_due(
    store: Store, settings: Settings, task_def: TaskDefinition, chain: str, min_new: int | None
) -> tuple[bool, str]:
    """Whether at least `min_new` (default `distill.min_new_teacher_labels`) answers of the
    chain's first teacher arrived since the chain last trained; and, when not, why."""
    threshold = settings.distill.min_new_teacher_labels if min_new is None else min_new
    first = load_chain(chain, settings.distill.chains_file)[0]  # taught by annotations: chains are validated
    with store.reader() as conn:
        new = annotation_rows.new_since_training(
            conn, first.teacher.annotator(annotator_of(settings.teacher)), task_def.version, chain
        )
    return new >= threshold, f"{new} new teacher labels since chain {chain} last trained, fewer than {threshold}"


def last_student_and_first_teacher(trained: DistillSummary) -> tuple[str, str]:
    """From a distill summary: the chain's last student, and the first stage's teacher (the
    one whose requests production saves, which the last student is judged against)."""
    stages = list(trained.stages.values())
    return stages[-1].model, stages[0].teacher


def stages_to_train(chain: str, stage: str | None, chains_file) -> list[Stage]:
    """The chain's stages in order, or only `stage` (an InputError if the chain has none such)."""
    stages = load_chain(chain, chains_file)
    if stage is None:
        return stages
    chosen = [s for s in stages if s.name == stage]
    if not chosen:
        raise InputError(f"chain {chain} has no stage {stage!r}")
    return chosen


def _resumed_config(folder: Path) -> str:
    """The interrupted run's config file, pointed at `folder` when the data directory moved since it was written."""
    path = folder / "train_config.json"
    config = TrainConfig.load(path)
    if Path(config.out_dir) != folder:
        config.rehomed(folder).save(path)
    return str(path)


@dataclass(frozen=True)
class StageJob:
    """One stage of a chain to train, on which teacher's answers; `served`: only chunks in these
    languages (or of unknown language), None for all."""

    chain: str
    stage: Stage
    teacher: str
    served: tuple[str, ...] | None = None


def warm_start_from(conn, chain: str, stage: Stage) -> str | None:
    """The folder of the production student when it is this chain's `stage` (an encoder: its
    weights fit the stage's model; an INT8 student's float parent), else None."""
    held = model_rows.holder(conn, PRODUCTION)
    row = model_rows.get(conn, held) if held else None
    if row is not None and row.parent_id:
        row = model_rows.get(conn, row.parent_id)
    if row is None or (row.chain, row.stage, row.kind) != (chain, stage.name, "encoder"):
        return None
    return row.path if (Path(row.path) / "model.safetensors").is_file() else None


@task(name="prepare-stage")
def prepare_stage(
    store: Store,
    layout: DataLayout,
    run_id: str,
    job: StageJob,
    task_def: TaskDefinition,
    settings: DistillSettings,
) -> tuple[str, str]:
    """Write the stage's examples and training config, register the model; returns (model id,
    config path). An interrupted training of the same stage and teacher is taken over and
    picked up again; one a live run still trains raises TrainingElsewhere (see ownership.py)."""
    chain, stage, teacher, served = job.chain, job.stage, job.teacher, job.served
    resumable = claim_interrupted(store, run_id, chain, stage.name, teacher)
    if resumable and (Path(resumable.path) / "train_config.json").exists():
        get_run_logger().info("resuming the interrupted training of %s", resumable.id)
        return resumable.id, _resumed_config(Path(resumable.path))
    with store.reader() as conn:
        splits = build_splits(
            conn, task_def, teacher, task_def.version, settings.eval_fraction, settings.validation_fraction, served
        )
        warm = warm_start_from(conn, chain, stage) if settings.warm_start else None
    if not splits.train:
        raise InputError(
            f"no training examples with labels from {teacher!r} for prompt {task_def.version}: run annotate first"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    model_id = f"{chain}-{stage.name}-{stamp}-{uuid.uuid4().hex[:4]}"
    out = layout.models / model_id
    scratch = layout.run_staging(run_id) / f"model-{model_id}"  # moved into models/ once complete
    (scratch / "data").mkdir(parents=True)
    for name in ("train", "validation", "eval"):
        write_examples(scratch / "data" / f"{name}.jsonl", getattr(splits, name))
    config = TrainConfig(
        kind=stage.kind,
        student=stage.base_model(layout.root),
        keep_layers=stage.keep_layers,
        head=stage.head,
        warm_start=warm,
        out_dir=str(out),
        train_file=str(out / "data" / "train.jsonl"),
        validation_file=str(out / "data" / "validation.jsonl"),
        task=task_def,
        training=settings.training(),
    )
    config.save(scratch / "train_config.json")
    with registering(store, run_id, chain, stage.name, teacher) as conn:  # unless a live run got here first
        out.parent.mkdir(parents=True, exist_ok=True)
        scratch.rename(out)
        model_rows.register(
            conn,
            model_rows.NewModel(
                model_id=model_id,
                chain=chain,
                stage=stage.name,
                kind=stage.kind,
                base_model=stage.base_model(layout.root),
                path=str(out),
                teacher=teacher,
                task=task_def.name,
                prompt_version=task_def.version,
                config={**json.loads(Path(out / "train_config.json").read_text()), "splits": splits.counts()},
                run_id=run_id,
            ),
        )
        model_rows.record_examples(
            conn,
            model_id,
            {
                "train": [e.chunk_id for e in splits.train],
                "validation": [e.chunk_id for e in splits.validation],
            },
        )
    counts = splits.counts()
    get_run_logger().info(
        "stage %s: %d training, %d validation and %d evaluation examples for %s",
        stage.name,
        counts["train"],
        counts["validation"],
        counts["eval"],
        model_id,
    )
    return model_id, str(out / "train_config.json")


@task(name="train-student")
def train_student(store: Store, model_id: str, config_path: str, stage: str) -> dict:
    """Train in this process (CPU or one GPU); the registry row becomes a candidate. Progress
    goes to the run's log in sentences and to this process's progress listeners."""
    logger = get_run_logger()
    try:
        metrics = train(
            TrainConfig.load(config_path),
            say=logger.info,
            advance=lambda done, total: progress.report(f"train {stage}", done, total),
        )
    except Exception as exc:
        with store.transaction() as conn:
            model_rows.finish(conn, model_id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        raise
    with store.transaction() as conn:
        model_rows.finish(conn, model_id, "candidate", metrics)
    logger.info(
        "%s is a candidate: validation agreement with its teacher %.3f, gold accuracy %s",
        model_id,
        metrics.get("validation_agreement_with_teacher", float("nan")),
        f"{metrics['validation_gold_accuracy']:.3f}"
        if "validation_gold_accuracy" in metrics
        else "n/a (no gold in validation)",
    )
    return metrics
