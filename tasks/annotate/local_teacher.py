"""A local causal LM as teacher: a distilled student teaching the next stage, or a tiny test model.

The prompt goes through the model's chat template, batches are left-padded so every answer
position is the last one, and one forward pass gives the logits there; the label distribution
is the softmax over the verbalizer tokens only (never free generation). The mass the full
vocabulary put elsewhere is kept as the off-label signal.

Every prompt starts with the same tokens (the system prompt with the syllabus, the fixed part
of the user message): their keys and values are computed once and reused by every batch, so a
forward pass only covers each chunk's own tokens (what vLLM's prefix cache does for the teacher).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from upscway.errors import InputError
from upscway.tasks.annotate.teacher import Answer, OnAnswer, answer_or_failure
from upscway.taxonomy import TaskDefinition

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
    def __init__(
        self,
        task: TaskDefinition,
        model_path: str | Path,
        batch_size: int = 8,
        device: str | None = None,
        model=None,
        tokenizer=None,
        prefix_cache: bool = True,
    ):
        self.task = task
        self.batch_size = batch_size
        self.prefix_cache = prefix_cache
        self._prefix: tuple[list[int], object] | None = None
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
        return [
            self.tokenizer.apply_chat_template(self.task.messages(t), tokenize=False, add_generation_prompt=True)
            for t in texts
        ]

    def _shared_prefix(self) -> tuple[list[int], object]:
        """The token ids every prompt starts with, and the model's cache after reading them."""
        if self._prefix is None:
            a, b = (self.tokenizer(p, add_special_tokens=False).input_ids for p in self.prompts(["A", "B"]))
            n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            ids = a[: max(0, n - 1)]  # one token short: a chunk's first token may merge with the last shared one
            cache = None
            if ids:
                cache = self.model(torch.tensor([ids], device=self.device), use_cache=True).past_key_values
            self._prefix = (ids, cache)
        return self._prefix

    @torch.inference_mode()
    def label_logprobs(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-probabilities over the labels, off-label mass) for each text, one forward pass."""
        prompts = self.prompts(texts)
        ids = [self.tokenizer(p, add_special_tokens=False).input_ids for p in prompts]
        prefix, cache = self._shared_prefix() if self.prefix_cache else ([], None)
        if cache is None or not all(x[: len(prefix)] == prefix and len(x) > len(prefix) for x in ids):
            prefix, cache = [], None
        # Only the answer position's logits: a full [batch, length, vocab] tensor for a 152k
        # vocabulary would cost more memory than the model.
        logits = self._last_logits([x[len(prefix) :] for x in ids], len(prefix), cache)
        full = torch.log_softmax(logits, dim=-1)
        label_logits = logits[:, self.label_ids]
        off = 1.0 - full[:, self.label_ids].exp().sum(-1)
        return torch.log_softmax(label_logits, dim=-1), off

    def _last_logits(self, suffixes: list[list[int]], prefix_len: int, cache) -> torch.Tensor:
        """Logits at each sequence's last token; suffixes left-padded after the cached prefix."""
        width = max(map(len, suffixes))
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in suffixes], device=self.device)
        suffix_mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in suffixes], device=self.device)
        if cache is None:
            return (
                self.model(input_ids=input_ids, attention_mask=suffix_mask, logits_to_keep=1).logits[:, -1, :].float()
            )
        batch = len(suffixes)
        attention_mask = torch.cat(
            [torch.ones(batch, prefix_len, dtype=suffix_mask.dtype, device=self.device), suffix_mask], dim=1
        )
        position_ids = (prefix_len + suffix_mask.cumsum(-1) - 1).clamp(min=prefix_len)
        past = copy.deepcopy(cache)
        past.batch_repeat_interleave(batch)
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1, :].float()

    def annotate(self, texts: Sequence[str], on_answer: OnAnswer | None = None) -> list[Answer]:
        answers: list[Answer] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            t0 = time.perf_counter()
            logprobs, off = self.label_logprobs(batch)
            per_chunk = (time.perf_counter() - t0) / len(batch)
            for j, (row, o) in enumerate(zip(logprobs.exp().tolist(), off.tolist())):
                answer = answer_or_failure(row, latency_s=per_chunk, off_label_mass=max(0.0, o))
                answers.append(answer)
                if on_answer:
                    on_answer(start + j, answer)
        return answers
