"""A trained encoder student as a teacher: its label softmax as soft labels (how a pruned
MiniLM teaches the next stage, and how evaluation and the cascade score an encoder student).

A folder holding `quantized-int8.pt` is an INT8 student (`upscway models quantize --int8`):
its classifier is rebuilt from `config.json`, quantized the same way (torch's dynamic INT8
quantization of every linear layer, 8-bit embedding tables) and given the stored weights, so it
scores on CPU.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from upscway.tasks.annotate import probe, prototypes  # noqa: F401  (register the heads' Auto classes)
from upscway.tasks.annotate.teacher import answer_or_failure

QUANTIZED_WEIGHTS = "quantized-int8.pt"


@contextmanager
def quiet_quantized():
    """Torch's quantized tensors warn on every use that they are deprecated (their creation,
    and TypedStorage when saved or loaded); that is a note for the docs, not for every load."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantize_per_(tensor|channel).*")
        warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
        yield


def quantize_dynamic_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Linear layers with INT8 weights and activations quantized on the fly, and embedding
    tables with 8-bit weights (in a MiniLM they are most of the bytes); CPU only."""
    from torch.ao.quantization import default_dynamic_qconfig, float_qparams_weight_only_qconfig, quantize_dynamic

    spec = {torch.nn.Linear: default_dynamic_qconfig, torch.nn.Embedding: float_qparams_weight_only_qconfig}
    with quiet_quantized():
        return quantize_dynamic(model.eval(), spec)


def load_classifier(model_dir: str | Path) -> torch.nn.Module:
    """The sequence classifier in `model_dir`, float or INT8, ready to score."""
    folder = Path(model_dir)
    if not (folder / QUANTIZED_WEIGHTS).exists():
        return AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    model = quantize_dynamic_int8(
        AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(str(folder)))
    )
    with quiet_quantized():
        model.load_state_dict(torch.load(folder / QUANTIZED_WEIGHTS, weights_only=True))
    return model.eval()


class EncoderTeacher:
    def __init__(
        self,
        task,
        model_dir: str | Path,
        annotator_id: str,
        batch_size: int = 32,
        max_length: int = 256,
        temperature: float = 1.0,
    ):
        """`temperature` divides the logits (the one fitted on validation, when scoring a
        student for evaluation and the cascade)."""
        self.task = task
        self.temperature = temperature
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = load_classifier(model_dir)
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
                enc = self.tokenizer(
                    batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                )
                probs = torch.softmax(self.model(**enc).logits.float() / self.temperature, -1).tolist()
            per_chunk = (time.perf_counter() - t0) / len(batch)
            for j, row in enumerate(probs):
                answers.append(answer_or_failure(row, latency_s=per_chunk))
                if on_answer:
                    on_answer(start + j, answers[-1])
        return answers
