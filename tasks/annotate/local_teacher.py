"""A local causal LM as teacher: a distilled student teaching the next stage, or a tiny test model.

The prompt goes through the model's chat template, batches are left-padded so every answer
position is the last one, and one forward pass gives the logits there; the label distribution
is the softmax over the verbalizer tokens only (never free generation). The mass the full
vocabulary put elsewhere is kept as the off-label signal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from upscway.errors import InputError
from upscway.tasks.annotate.taxonomy import SoftLabel, TaskDefinition
from upscway.tasks.annotate.teacher import Answer, OnAnswer

LOGGER = logging.getLogger(__name__)


def verbalizer_token_ids(tokenizer, verbalizers: Sequence[str]) -> list[int]:
    """The single token id of each verbalizer; a verbalizer that is not one token is an error."""
    ids = []
    for v in verbalizers:
        tokens = tokenizer.encode(v, add_special_tokens=False)
        if len(tokens) != 1:
            raise InputError(f"verbalizer {v!r} is {len(tokens)} tokens for this tokenizer; it must be exactly one")
        ids.append(tokens[0])
    return ids


class CausalLMTeacher:
    def __init__(self, task: TaskDefinition, model_path: str | Path, batch_size: int = 8, device: str | None = None, model=None, tokenizer=None):
        self.task = task
        self.batch_size = batch_size
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(model_path))
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = (model or AutoModelForCausalLM.from_pretrained(str(model_path))).to(self.device).eval()
        self.label_ids = verbalizer_token_ids(self.tokenizer, task.verbalizers)
        self.annotator_id = f"causal-lm:{Path(str(model_path)).name}"

    def close(self) -> None:
        pass

    def prompts(self, texts: Sequence[str]) -> list[str]:
        return [self.tokenizer.apply_chat_template(self.task.messages(t), tokenize=False, add_generation_prompt=True) for t in texts]

    @torch.inference_mode()
    def label_logprobs(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-probabilities over the labels, off-label mass) for each text, one forward pass."""
        enc = self.tokenizer(self.prompts(texts), return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        # Only the answer position's logits: a full [batch, length, vocab] tensor for a 152k
        # vocabulary would cost more memory than the model.
        logits = self.model(**enc, logits_to_keep=1).logits[:, -1, :].float()
        full = torch.log_softmax(logits, dim=-1)
        label_logits = logits[:, self.label_ids]
        off = 1.0 - full[:, self.label_ids].exp().sum(-1)
        return torch.log_softmax(label_logits, dim=-1), off

    def annotate(self, texts: Sequence[str], on_answer: OnAnswer | None = None) -> list[Answer]:
        answers: list[Answer] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            t0 = time.perf_counter()
            logprobs, off = self.label_logprobs(batch)
            per_chunk = (time.perf_counter() - t0) / len(batch)
            for j, (row, o) in enumerate(zip(logprobs.exp().tolist(), off.tolist())):
                answer = SoftLabel(probs=row, latency_s=per_chunk, off_label_mass=max(0.0, o))
                answers.append(answer)
                if on_answer:
                    on_answer(start + j, answer)
        return answers
