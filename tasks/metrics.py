"""Metrics of a labeller on gold chunks, as plain functions over label indices.

`not_relevant` is the index of the task's label that means "serves none" (the task definition
names it); relevant means any other label. A metric whose denominator is empty
(precision with no relevant predictions, GS accuracy without relevant gold chunks) is None,
never a division by zero: the gate treats None as "cannot pass".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from upscway.results import Scores


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def relevance(predicted: Sequence[int], gold: Sequence[int], not_relevant: int) -> dict[str, float | None]:
    """Accuracy, precision, recall and F1 of relevant vs not relevant."""
    p = np.asarray(predicted) != not_relevant
    g = np.asarray(gold) != not_relevant
    tp, fp, fn = int((p & g).sum()), int((p & ~g).sum()), int((~p & g).sum())
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = (
        None
        if precision is None or recall is None or precision + recall == 0
        else 2 * precision * recall / (precision + recall)
    )
    return {"accuracy": _ratio(int((p == g).sum()), len(g)), "precision": precision, "recall": recall, "f1": f1}


def gs_accuracy(
    predicted: Sequence[int], gold: Sequence[int], n_labels: int, not_relevant: int
) -> dict[str, float | None]:
    """Accuracy on gold-relevant chunks, overall and per paper (label index as key)."""
    p, g = np.asarray(predicted), np.asarray(gold)
    relevant = g != not_relevant
    out: dict[str, float | None] = {"overall": _ratio(int((p[relevant] == g[relevant]).sum()), int(relevant.sum()))}
    for label in (i for i in range(n_labels) if i != not_relevant):
        mask = g == label
        out[str(label)] = _ratio(int((p[mask] == label).sum()), int(mask.sum()))
    return out


def confusion(predicted: Sequence[int], gold: Sequence[int], n_labels: int) -> list[list[int]]:
    """matrix[gold][predicted] counts."""
    matrix = np.zeros((n_labels, n_labels), dtype=int)
    for p, g in zip(predicted, gold):
        matrix[g, p] += 1
    return matrix.tolist()


def agreement(a: Sequence[int], b: Sequence[int]) -> float | None:
    return _ratio(sum(x == y for x, y in zip(a, b)), len(a))


def calibration(probs: Sequence[Sequence[float]], gold: Sequence[int], bins: int = 10) -> dict[str, float | None]:
    """Expected calibration error (equal-width confidence bins) and mean confidence, overall
    and on wrong answers."""
    if len(gold) == 0:
        return {"ece": None, "mean_confidence": None, "mean_confidence_wrong": None}
    p = np.asarray(probs, dtype=float)
    confidence, predicted = p.max(axis=1), p.argmax(axis=1)
    correct = predicted == np.asarray(gold)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi) if lo > 0 else (confidence >= lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    wrong = ~correct
    return {
        "ece": float(ece),
        "mean_confidence": float(confidence.mean()),
        "mean_confidence_wrong": float(confidence[wrong].mean()) if wrong.any() else None,
    }


def mcnemar(teacher_correct: Sequence[bool], student_correct: Sequence[bool]) -> dict[str, float | int]:
    """Exact McNemar test on paired correctness: b = teacher right and student wrong, c = the
    reverse; two-sided p-value of b against Binomial(b + c, 1/2)."""
    b = sum(1 for t, s in zip(teacher_correct, student_correct) if t and not s)
    c = sum(1 for t, s in zip(teacher_correct, student_correct) if s and not t)
    n = b + c
    if n == 0:
        return {"b": 0, "c": 0, "p_value": 1.0}
    tail = sum(math.comb(n, k) for k in range(0, min(b, c) + 1)) / 2**n
    return {"b": b, "c": c, "p_value": min(1.0, 2 * tail)}


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float | None], n: int, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile interval of `statistic(indices)` over resamples of range(n) with replacement
    (resamples where the statistic is undefined are skipped)."""
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    values = [v for v in (statistic(rng.integers(0, n, n)) for _ in range(resamples)) if v is not None]
    if not values:
        return None
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def scores(probs: Sequence[Sequence[float]], gold: Sequence[int], n_labels: int, not_relevant: int) -> Scores:
    predicted = [int(np.argmax(p)) for p in probs]
    rel = relevance(predicted, gold, not_relevant)
    gs = gs_accuracy(predicted, gold, n_labels, not_relevant)
    return Scores(
        accuracy=agreement(predicted, gold),
        relevance_accuracy=rel["accuracy"],
        precision=rel["precision"],
        recall=rel["recall"],
        f1=rel["f1"],
        gs_accuracy=gs["overall"],
        gs_accuracy_per_paper={k: v for k, v in gs.items() if k != "overall"},
        confusion=confusion(predicted, gold, n_labels),
        **calibration(probs, gold),
    )
