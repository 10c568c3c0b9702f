"""Temperature scaling: one scalar T that divides a student's logits so that its confidence
means what it says (Guo et al., 2017). Fitted after training on the validation split (against
its gold labels when it has enough, else the teacher's) by minimising the negative
log-likelihood over a log-spaced grid; the argmax, so accuracy, never changes."""

from __future__ import annotations

import numpy as np

GRID = np.exp(np.linspace(np.log(0.25), np.log(8.0), 81))


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    log_probs = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def fit_temperature(logits, labels) -> dict[str, float]:
    """The temperature minimising NLL of `labels` under softmax(logits / T), with the NLL at
    T = 1 and at the fitted T (1.0 when there is nothing to fit on)."""
    logits, labels = np.asarray(logits, dtype=float), np.asarray(labels, dtype=int)
    if len(labels) == 0:
        return {"temperature": 1.0}
    scores = [_nll(logits, labels, t) for t in GRID]
    best = int(np.argmin(scores))
    return {
        "temperature": float(GRID[best]),
        "validation_nll_before": _nll(logits, labels, 1.0),
        "validation_nll_after": scores[best],
    }


MIN_GOLD_TO_CALIBRATE = 20


def calibrate(logits, examples) -> dict:
    """The temperature that calibrates a student on its validation `examples` (Example rows),
    against their gold labels where at least MIN_GOLD_TO_CALIBRATE have one (confidence should
    mean "right"), else against the teacher's labels (the labels it learnt); with the
    calibrated confidences there (what the night's chunks are compared with to notice drift)."""
    logits = np.asarray(logits, dtype=float)
    teacher = [int(np.argmax(e.teacher_logprobs)) for e in examples]
    with_gold = [i for i, e in enumerate(examples) if e.gold >= 0]
    rows, labels, against = (
        (with_gold, [examples[i].gold for i in with_gold], "gold")
        if len(with_gold) >= MIN_GOLD_TO_CALIBRATE
        else (list(range(len(teacher))), teacher, "teacher")
    )
    result = {**fit_temperature(logits[rows], labels), "calibrated_against": against}
    scaled = logits / result["temperature"]
    scaled = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    result["validation_confidences"] = [
        round(float(c), 4) for c in (scaled / scaled.sum(axis=1, keepdims=True)).max(axis=1)
    ]
    return result


def uncalibrated(probs, temperature: float) -> list[list[float]]:
    """The probabilities before scaling: softmax(T · log p) recovers softmax(logits) from
    softmax(logits / T)."""
    p = np.clip(np.asarray(probs, dtype=float), 1e-12, 1.0)
    raw = np.exp(temperature * np.log(p))
    return (raw / raw.sum(axis=1, keepdims=True)).tolist()
