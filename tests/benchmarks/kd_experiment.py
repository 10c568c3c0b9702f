"""The KD experiment: the demo student trained three ways on the same data and budget —
KD (T=2, alpha=0.5), hard labels only (alpha=0), soft labels only (alpha=1) — and scored on the
evaluation gold split beside the teacher.

    python tests/benchmarks/kd_experiment.py [--data-dir DIR] [--epochs 15] [--out result.json]

It builds the demo store in DIR if it is empty (bundled news + bundled gold + the embedding
teacher), then trains a 3-layer MiniLM student with each loss. "Hard labels" are the gold label
where a training chunk has one, else the teacher's argmax, exactly as in the KD loss.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch
from common import emit  # first: offline env, the project on sys.path

from upscway.tasks.evaluate import metrics


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def gold_metrics(predicted: list[int], gold: list[int]) -> dict:
    """The three figures README reports, from the project's own metrics."""
    return {
        "n": len(gold),
        "accuracy": _round(metrics.agreement(predicted, gold)),
        "relevance_accuracy": _round(metrics.relevance(predicted, gold)["accuracy"]),
        "gs_paper_accuracy": _round(metrics.gs_accuracy(predicted, gold, 5)["overall"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--epochs", type=float, default=15)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="kd-experiment-"))
    os.environ["UPSCWAY_DATA_DIR"] = str(data_dir)

    from prefect.testing.utilities import prefect_test_harness

    from upscway.flows.annotate import annotate
    from upscway.flows.context import open_store
    from upscway.flows.ingest import ingest
    from upscway.resources import DEPLOYMENTS_DIR
    from upscway.settings import load_settings
    from upscway.storage import gold as gold_repo
    from upscway.tasks.annotate.embedding_teacher import EmbeddingTeacher
    from upscway.tasks.annotate.encoder_teacher import EncoderTeacher
    from upscway.tasks.annotate.gold import read_csv
    from upscway.tasks.annotate.taxonomy import load_task
    from upscway.tasks.distill.dataset import build_splits
    from upscway.tasks.distill.train import TrainConfig, train, write_examples

    settings = load_settings()
    task = load_task(settings.task.file)
    store = open_store(settings)
    with prefect_test_harness(server_startup_timeout=120):
        ingest(return_state=True).result()
        with store.transaction() as conn:
            gold_repo.import_rows(conn, read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv"), task.name, "gold.csv", lambda t: len(t.split()))
        annotate(return_state=True).result()
    teacher = EmbeddingTeacher(task, settings.teacher.embedding_model, settings.teacher.embedding_temperature)
    with store.reader() as conn:
        splits = build_splits(conn, task, teacher.annotator_id, task.version, settings.distill.eval_fraction, settings.distill.validation_fraction)
    work = data_dir / "kd-experiment"
    work.mkdir(exist_ok=True)
    for name in ("train", "validation"):
        write_examples(work / f"{name}.jsonl", getattr(splits, name))
    eval_texts, eval_gold = [e.text for e in splits.eval], [e.gold for e in splits.eval]
    teacher_logprobs = [e.teacher_logprobs for e in splits.eval]
    results = {"splits": splits.counts(), "teacher": gold_metrics([max(range(5), key=lp.__getitem__) for lp in teacher_logprobs], eval_gold)}
    for label, alpha in (("kd_T2_alpha0.5", 0.5), ("hard_labels_only", 0.0), ("kd_only", 1.0)):
        torch.manual_seed(0)
        config = TrainConfig(
            kind="encoder", student="all-MiniLM-L6-v2", keep_layers=3, out_dir=str(work / label),
            train_file=str(work / "train.jsonl"), validation_file=str(work / "validation.jsonl"), task=task,
            training=settings.distill.training().model_copy(update={"temperature": 2.0, "alpha": alpha, "epochs": args.epochs, "save_steps": 10_000}),
        )
        metrics = train(config)
        student = EncoderTeacher(task, work / label, annotator_id=label)
        predicted = [a.label for a in student.annotate(eval_texts)]
        results[label] = {**gold_metrics(predicted, eval_gold), "train_seconds": metrics["train_seconds"], "last_kd": metrics["last_kd"], "last_ce": metrics["last_ce"]}
        print(label, results[label], flush=True)
    emit(results, args.out)


if __name__ == "__main__":
    main()
