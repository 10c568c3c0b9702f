"""One arm of a study, for one seed: train it (unless its key was trained before), score it on
the study's gold chunks and measure it. Plain functions over an `ArmJob`, so a unit test, a
Prefect task or a Dask worker runs the same code; nothing here opens the store.

An arm's key is a digest of everything that decides what it learns: its settings but the
quantization, the seed, the training knobs and budget, and the digest of its teacher's
training data. A later study, of any spec, whose arm has the same key reuses the trained
student in `studies/arms/<key>` (an interrupted training resumes from its checkpoints). An
INT8 arm is its float arm's student, quantized once beside it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from sklearn.metrics import f1_score

from upscway.settings import TrainingSettings
from upscway.tasks.distill.noise import noisy_examples
from upscway.tasks.distill.quantize import folder_size_mb, int8_calibration, parameter_count, write_int8
from upscway.tasks.distill.train import TrainConfig, read_examples, train, write_examples
from upscway.tasks.metrics import calibration
from upscway.tasks.study.spec import ArmSettings
from upscway.taxonomy import TaskDefinition

VALIDATION_NOISE_STREAM = 1_000_003  # the validation split's noise draws differ from training's


class ArmJob(BaseModel):
    """Everything an arm's run needs, picklable for a Dask worker."""

    model_config = ConfigDict(frozen=True)

    arm: str
    settings: ArmSettings
    seed: int
    key: str
    student: str  # the base model, resolved (a packaged name, folder or hub id)
    out_dir: str  # studies/arms/<key>
    train_file: str
    validation_file: str
    max_train_examples: int | None
    training: TrainingSettings
    task: TaskDefinition
    gold_texts: list[str]
    gold: list[int]
    teacher_predictions: list[int]  # the arm's teacher on the gold chunks (agreement)


class ArmResult(BaseModel):
    arm: str
    seed: int
    key: str
    trained: bool
    metrics: dict
    predictions: list[int]
    model_path: str


def arm_key(
    settings: ArmSettings, seed: int, training: TrainingSettings, max_train: int | None, data_digest: str, student: str
) -> str:
    """What the arm learns, as a digest (the quantization is not in it: see the module)."""
    learnt = settings.model_dump(exclude={"quantization"})
    text = json.dumps(
        {
            "arm": learnt,
            "seed": seed,
            "training": training.model_dump(mode="json"),
            "max_train": max_train,
            "data": data_digest,
            "student": student,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def label_metrics(probs: list[list[float]], gold: list[int], teacher: list[int], n_labels: int) -> dict:
    """Accuracy, macro F1 and F1 per label (scikit-learn), agreement with the teacher and ECE."""
    predicted = np.asarray(probs).argmax(axis=1)
    labels = list(range(n_labels))
    per_label = f1_score(gold, predicted, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(np.mean(predicted == np.asarray(gold))),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        "f1_per_label": [float(f) for f in per_label],
        "agreement": float(np.mean(predicted == np.asarray(teacher))),
        "ece": calibration(probs, gold)["ece"],
    }


def _train(job: ArmJob, folder: Path, say: Callable[[str], None], advance) -> None:
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    train_examples = read_examples(job.train_file)[: job.max_train_examples]
    write_examples(data / "train.jsonl", noisy_examples(train_examples, job.settings.noise_sigma, job.seed))
    write_examples(
        data / "validation.jsonl",
        noisy_examples(
            read_examples(job.validation_file), job.settings.noise_sigma, job.seed + VALIDATION_NOISE_STREAM
        ),
    )
    student = job.settings.student
    config = TrainConfig(
        kind=student.kind,
        student=job.student,
        keep_layers=student.keep_layers,
        head=student.head,
        out_dir=str(folder),
        seed=job.seed,
        train_file=str(data / "train.jsonl"),
        validation_file=str(data / "validation.jsonl"),
        task=job.task,
        training=job.training,
    )
    config.save(folder / "train_config.json")
    train(config, say=say, advance=advance)


def _scorer(job: ArmJob, folder: Path, temperature: float):
    from upscway.tasks.annotate.encoder_teacher import EncoderTeacher

    if job.settings.student.kind == "encoder":
        return EncoderTeacher(job.task, folder, annotator_id=f"study:{job.key}", temperature=temperature)
    from upscway.tasks.annotate.local_teacher import CausalLMTeacher
    from upscway.tasks.distill.causal_lm import merge_adapter

    merged = folder / "merged"
    if not (merged / "config.json").exists():
        merge_adapter(job.student, folder, merged)
    return CausalLMTeacher(job.task, merged)


def run_arm(job: ArmJob, say: Callable[[str], None] = print, advance=None) -> ArmResult:
    """Train the arm (or reuse its trained student), then score and measure it."""
    folder = Path(job.out_dir)
    trained = not (folder / "metrics.json").exists()
    if trained:
        _train(job, folder, say, advance)
    training = json.loads((folder / "metrics.json").read_text())
    scored, temperature = folder, training.get("temperature", 1.0)
    if job.settings.quantization == "int8":
        scored = folder.with_name(folder.name + "-int8")
        if not (scored / "calibration.json").exists():
            write_int8(folder, scored)
            validation = read_examples(folder / "data" / "validation.jsonl")
            (scored / "calibration.json").write_text(json.dumps(int8_calibration(scored, validation, job.task)))
        temperature = json.loads((scored / "calibration.json").read_text()).get("temperature", 1.0)
    scorer = _scorer(job, scored, temperature)
    started = time.perf_counter()
    probs = [a.probs for a in scorer.annotate(job.gold_texts)]
    seconds = time.perf_counter() - started
    metrics = {
        **label_metrics(probs, job.gold, job.teacher_predictions, len(job.task.labels)),
        "chunks_per_s": len(job.gold_texts) / seconds,
        "latency_ms_per_chunk": 1000 * seconds / len(job.gold_texts),
        "parameters": parameter_count(scorer.model),
        "size_mb": folder_size_mb(scored),
        "train_examples": training.get("train_examples"),
        "train_seconds": training.get("train_seconds"),
        "steps": training.get("steps"),
        "temperature": temperature,
    }
    return ArmResult(
        arm=job.arm,
        seed=job.seed,
        key=job.key,
        trained=trained,
        metrics=metrics,
        predictions=[int(np.argmax(p)) for p in probs],
        model_path=str(scored),
    )
