"""Texts and the embedding teacher's answers to them, written as a student's training data, and the
training config that reads them: what the encoder students' training tests use."""

import math

from upscway.resources import DEPLOYMENTS_DIR
from upscway.settings import TrainingSettings
from upscway.tasks.annotate.embedding_teacher import EmbeddingTeacher
from upscway.tasks.distill.dataset import Example
from upscway.tasks.distill.train import TrainConfig, write_examples
from upscway.tasks.gold.sheets import read_csv
from upscway.taxonomy import load_task

TASK = load_task()


def gold_texts(n=40):
    return [row.text for row in read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv")[:n]]


def write_teacher_examples(folder, n: int, train: int) -> None:
    """`n` gold texts with the embedding teacher's answers: the first `train` in train.jsonl,
    the rest in validation.jsonl."""
    chunks = gold_texts(n)
    answers = EmbeddingTeacher(TASK).annotate(chunks)
    examples = [
        Example(f"c{i}", f"a{i}", text, tuple(math.log(p) for p in answer.probs), -1)
        for i, (text, answer) in enumerate(zip(chunks, answers))
    ]
    write_examples(folder / "train.jsonl", examples[:train])
    write_examples(folder / "validation.jsonl", examples[train:])


def encoder_config(folder, head: str, epochs: float = 0, out: str = "student", **fields) -> TrainConfig:
    """A packaged-MiniLM student with `head`, trained on `write_teacher_examples(folder, ...)`'s
    files into `folder / out`; `fields`: any other TrainConfig field (keep_layers, warm_start)."""
    return TrainConfig(
        kind="encoder",
        student="all-MiniLM-L6-v2",
        head=head,
        out_dir=str(folder / out),
        train_file=str(folder / "train.jsonl"),
        validation_file=str(folder / "validation.jsonl"),
        task=TASK,
        training=TrainingSettings(epochs=epochs),
        **fields,
    )
