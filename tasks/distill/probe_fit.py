"""Fit a linear probe (`head: probe`): embed each example once with the frozen encoder, then
minimise the KD loss plus an L2 penalty on the layer over all of them at once with L-BFGS.

Full-batch L-BFGS on a convex loss (for a fixed Gatekeeper set) converges in a few hundred
cheap steps over cached vectors: a retrain on thousands of teacher answers costs one pass of
the encoder, not `epochs` passes with back-propagation through it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from upscway.settings import TrainingSettings
from upscway.tasks.annotate.probe import ProbeClassifier, sentence_vectors
from upscway.tasks.distill.dataset import Example
from upscway.tasks.distill.kd_loss import kd_loss

MAX_ITERATIONS = 500


@torch.no_grad()  # not inference_mode: the vectors are the fit's input, which autograd reads
def embed(model: ProbeClassifier, tokenizer, texts: Sequence[str], max_length: int, batch_size: int = 64):
    """The frozen encoder's sentence vectors of `texts`, (n, hidden)."""
    model.eval()
    out = [torch.empty(0, model.config.hidden_size)]
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(
            list(texts[i : i + batch_size]), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        out.append(sentence_vectors(model.bert, enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids")))
    return torch.cat(out)


def fit_layer(layer: torch.nn.Linear, vectors: torch.Tensor, examples: list[Example], knobs: TrainingSettings) -> dict:
    """Fit `layer` in place to `examples` given their sentence `vectors`: the KD loss (and
    Gatekeeper's term) with `knobs`, plus `knobs.probe_l2`·‖W‖², minimised by full-batch L-BFGS.
    Returns the loss before and after and the iterations."""
    teacher = torch.tensor([e.teacher_logprobs for e in examples], dtype=vectors.dtype)
    gold = torch.tensor([e.gold for e in examples])

    def objective() -> torch.Tensor:
        loss = kd_loss(layer(vectors), teacher, gold, knobs.temperature, knobs.alpha, gatekeeper=knobs.gatekeeper)
        return loss.total + knobs.probe_l2 * layer.weight.pow(2).sum()

    optimiser = torch.optim.LBFGS(
        layer.parameters(), max_iter=MAX_ITERATIONS, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    with torch.no_grad():
        before = float(objective())
    optimiser.step(closure)
    with torch.no_grad():
        after = float(objective())
    return {
        "probe_loss_before": before,
        "probe_loss_after": after,
        "probe_iterations": int(optimiser.state[layer.weight].get("n_iter", 0)),
    }


def fit_probe(model: ProbeClassifier, tokenizer, examples: list[Example], knobs: TrainingSettings) -> dict:
    """Fit `model.classifier` in place on `examples`; the encoder is not touched. Returns
    `fit_layer`'s figures and the seconds it took, embedding included."""
    started = time.perf_counter()
    vectors = embed(model, tokenizer, [e.text for e in examples], knobs.max_length)
    fitted = fit_layer(model.classifier, vectors, examples, knobs)
    return {**fitted, "train_seconds": round(time.perf_counter() - started, 2)}


@torch.inference_mode()
def probe_logits(model: ProbeClassifier, tokenizer, examples: list[Example], max_length: int) -> torch.Tensor:
    """The fitted probe's logits on `examples` (what validation and calibration read)."""
    return model.classifier(embed(model, tokenizer, [e.text for e in examples], max_length))
