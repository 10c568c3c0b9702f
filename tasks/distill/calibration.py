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
    return {"temperature": float(GRID[best]), "validation_nll_before": _nll(logits, labels, 1.0), "validation_nll_after": scores[best]}


def uncalibrated(probs, temperature: float) -> list[list[float]]:
    """The probabilities before scaling: softmax(T · log p) recovers softmax(logits) from
    softmax(logits / T)."""
    p = np.clip(np.asarray(probs, dtype=float), 1e-12, 1.0)
    raw = np.exp(temperature * np.log(p))
    return (raw / raw.sum(axis=1, keepdims=True)).tolist()
