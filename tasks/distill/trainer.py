"""Training a student with the KD loss on the transformers Trainer.

`KDTrainer.compute_loss` replaces the model's own loss: the student's label logits (from a
classification head, or read at the answer position for a causal LM) against the teacher's
stored label log-probabilities. Columns the model does not take (`teacher_logprobs`, `gold`)
must survive batching, hence `remove_unused_columns=False`. The KD and CE terms are logged
apart, and `loss_calls` counts calls, so a test can prove this loss is the one in use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset
from transformers import Trainer

from upscway.tasks.distill.dataset import Example
from upscway.tasks.distill.kd_loss import kd_loss

LOGGER = logging.getLogger(__name__)


class ExampleDataset(Dataset):
    """Tokenised examples with their teacher log-probabilities and gold label (-1: none).

    `render` turns a chunk into the model's input text (a causal LM's chat prompt); prompts are
    then tokenised as they are, since the chat template already holds the special tokens.
    """

    def __init__(self, examples: Sequence[Example], tokenizer, max_length: int | None = 256, render: Callable[[str], str] | None = None):
        self.examples = list(examples)
        texts = [render(e.text) if render else e.text for e in self.examples]
        # A causal prompt is never truncated (that would cut the answer position off); its
        # chunk is already bounded by the chunker.
        self.encodings = tokenizer(
            texts, truncation=max_length is not None, max_length=max_length, add_special_tokens=render is None
        )

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict:
        item = {k: v[i] for k, v in self.encodings.items()}
        item["teacher_logprobs"] = list(self.examples[i].teacher_logprobs)
        item["gold"] = self.examples[i].gold
        return item


@dataclass
class KDCollator:
    tokenizer: object

    def __call__(self, features: list[dict]) -> dict:
        teacher = torch.tensor([f.pop("teacher_logprobs") for f in features], dtype=torch.float32)
        gold = torch.tensor([f.pop("gold") for f in features], dtype=torch.long)
        batch = self.tokenizer.pad(features, return_tensors="pt")
        batch["teacher_logprobs"] = teacher
        batch["gold"] = gold
        return batch


class KDTrainer(Trainer):
    def __init__(self, *args, temperature: float = 2.0, alpha: float = 0.5, **kwargs):
        super().__init__(*args, **kwargs)
        self.temperature = temperature
        self.alpha = alpha
        self.loss_calls = 0
        self.loss_history: list[dict[str, float]] = []

    def label_logits(self, model, inputs: dict) -> torch.Tensor:
        """The student's logits over the labels (a classification head's output)."""
        return model(**inputs).logits

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher = inputs.pop("teacher_logprobs")
        gold = inputs.pop("gold")
        inputs.pop("labels", None)
        logits = self.label_logits(model, inputs)
        loss = kd_loss(logits, teacher, gold, self.temperature, self.alpha)
        self.loss_calls += 1
        if model.training:
            self.loss_history.append({"loss": loss.total.item(), "kd": loss.kd.item(), "ce": loss.ce.item()})
            if self.state.global_step % max(1, self.args.logging_steps) == 0:
                self.log({"kd_loss": loss.kd.item(), "ce_loss": loss.ce.item()})
        return (loss.total, {"logits": logits}) if return_outputs else loss.total

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Evaluation and `predict` with the same label logits and loss as training."""
        inputs = self._prepare_inputs(inputs)
        teacher = inputs.pop("teacher_logprobs")
        gold = inputs.pop("gold")
        with torch.no_grad():
            logits = self.label_logits(model, inputs)
            loss = kd_loss(logits, teacher, gold, self.temperature, self.alpha).total
        return loss, (None if prediction_loss_only else logits), None
