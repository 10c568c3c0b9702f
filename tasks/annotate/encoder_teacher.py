"""A trained encoder student as a teacher: its label softmax as soft labels (how a pruned
MiniLM teaches the next stage, and how evaluation and the cascade score an encoder student)."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from upscway.tasks.annotate.taxonomy import SoftLabel


class EncoderTeacher:

    def __init__(
        self, task, model_dir: str | Path, annotator_id: str, batch_size: int = 32, max_length: int = 256, temperature: float = 1.0
    ):
        """`temperature` divides the logits (the one fitted on validation, when scoring a
        student for evaluation and the cascade)."""
        self.task = task
        self.temperature = temperature
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
        self.annotator_id = annotator_id
        self.batch_size = batch_size
        self.max_length = max_length

    def close(self) -> None:
        pass

    def annotate(self, texts, on_answer=None):
        answers = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            t0 = time.perf_counter()
            with torch.inference_mode():
                enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
                probs = torch.softmax(self.model(**enc).logits.float() / self.temperature, -1).tolist()
            per_chunk = (time.perf_counter() - t0) / len(batch)
            for j, row in enumerate(probs):
                answers.append(SoftLabel(probs=row, latency_s=per_chunk))
                if on_answer:
                    on_answer(start + j, answers[-1])
        return answers
