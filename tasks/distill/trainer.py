"""Training a student with the KD loss on the transformers Trainer.

`KDTrainer.compute_loss` replaces the model's own loss: the student's label logits (from a
classification head, or read at the answer position for a causal LM) against the teacher's
stored label log-probabilities. Columns the model does not take (`teacher_logprobs`, `gold`)
must survive batching, hence `remove_unused_columns=False`. The mean KD and CE terms since the
last log join the Trainer's own log entry, and `loss_calls` counts calls, so a test can prove
this loss is the one in use. `TrainingReport` turns each log entry into a sentence for
whoever runs the training (a Prefect run's logger, the CLI's progress display).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback

from upscway.tasks.distill.dataset import Example
from upscway.tasks.distill.kd_loss import confidence_weights, kd_loss

LOGGER = logging.getLogger(__name__)


class ExampleDataset(Dataset):
    """Tokenised examples with their teacher log-probabilities and gold label (-1: none).

    `render` turns a chunk into the model's input text (a causal LM's chat prompt); prompts are
    then tokenised as they are, since the chat template already holds the special tokens.
    """

    def __init__(
        self,
        examples: Sequence[Example],
        tokenizer,
        max_length: int | None = 256,
        render: Callable[[str], str] | None = None,
    ):
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
    def __init__(
        self,
        *args,
        temperature: float = 2.0,
        alpha: float = 0.5,
        confidence_weighting: str = "off",
        gatekeeper: float = 0.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.temperature = temperature
        self.alpha = alpha
        self.confidence_weighting = confidence_weighting
        self.gatekeeper = gatekeeper
        self.loss_calls = 0
        self.loss_history: list[dict[str, float]] = []
        self.loss_curve: list[dict[str, float]] = []  # the mean terms of each log window, by step
        self._since_log: list[dict[str, float]] = []
        self.remove_callback(PrinterCallback)  # raw dicts on stdout; TrainingReport says it in words

    def label_logits(self, model, inputs: dict) -> torch.Tensor:
        """The student's logits over the labels (a classification head's output)."""
        return model(**inputs).logits

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher = inputs.pop("teacher_logprobs")
        gold = inputs.pop("gold")
        inputs.pop("labels", None)
        logits = self.label_logits(model, inputs)
        weights = confidence_weights(teacher, self.confidence_weighting) if model.training else None
        loss = kd_loss(
            logits, teacher, gold, self.temperature, self.alpha, weights, self.gatekeeper if model.training else 0.0
        )
        self.loss_calls += 1
        if model.training:
            terms = {"loss": loss.total.item(), "kd": loss.kd.item(), "ce": loss.ce.item()}
            self.loss_history.append(terms)
            self._since_log.append(terms)
        return (loss.total, {"logits": logits}) if return_outputs else loss.total

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """The Trainer's log entry, with the mean KD and CE terms of the steps since the last one."""
        if self._since_log and "loss" in logs:
            for key in ("kd", "ce"):
                logs[f"{key}_loss"] = sum(t[key] for t in self._since_log) / len(self._since_log)
            self.loss_curve.append(
                {"step": self.state.global_step, "kd": round(logs["kd_loss"], 4), "ce": round(logs["ce_loss"], 4)}
            )
            self._since_log = []
        super().log(logs, start_time)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Evaluation and `predict` with the same label logits and loss as training."""
        inputs = self._prepare_inputs(inputs)
        teacher = inputs.pop("teacher_logprobs")
        gold = inputs.pop("gold")
        with torch.no_grad():
            logits = self.label_logits(model, inputs)
            loss = kd_loss(logits, teacher, gold, self.temperature, self.alpha).total
        return loss, (None if prediction_loss_only else logits), None


class TrainingReport(TrainerCallback):
    """Training progress in words and counts: `say` gets one sentence per log entry (step,
    epoch, KD and CE loss, samples/s); `advance(step, total)` is called after every step."""

    def __init__(self, name: str, say: Callable[[str], None], advance: Callable[[int, int], None] | None = None):
        self.name, self.say, self.advance = name, say, advance
        self._last = (0, time.perf_counter())

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = (state.global_step, time.perf_counter())
        start = f" from step {state.global_step}" if state.global_step else ""
        self.say(f"training {self.name}{start}: {state.max_steps} steps of {args.per_device_train_batch_size} examples")

    def on_step_end(self, args, state, control, **kwargs):
        if self.advance:
            self.advance(state.global_step, state.max_steps)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "kd_loss" not in logs:
            if "train_runtime" in logs:
                self.say(
                    f"trained {self.name}: {state.global_step} steps in {logs['train_runtime']:.0f} s, "
                    f"mean loss {logs.get('train_loss', float('nan')):.3f}"
                )
            return
        step, now = state.global_step, time.perf_counter()
        rate = (step - self._last[0]) * args.per_device_train_batch_size / max(now - self._last[1], 1e-9)
        self._last = (step, now)
        self.say(
            f"{self.name} step {step}/{state.max_steps} (epoch {state.epoch:.1f}): KD loss {logs['kd_loss']:.3f}, "
            f"CE loss {logs['ce_loss']:.3f}, {rate:.1f} samples/s"
        )
