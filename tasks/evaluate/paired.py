"""A candidate and its teacher scored on the SAME gold chunks: both sets of metrics, their
agreement, the accuracy gap, McNemar's test on paired correctness, and bootstrap intervals
that resample the chunks jointly for both models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from upscway.results import Bound, McNemar, Paired, PairedResult
from upscway.tasks import metrics as m
from upscway.tasks.metrics import scores


def evaluate_pair(
    student_probs: Sequence[Sequence[float]],
    teacher_probs: Sequence[Sequence[float]],
    gold: Sequence[int],
    n_labels: int,
    not_relevant: int,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedResult:
    """Both models' metrics on the same chunks, and the paired statistics; `noninferiority`
    is the one-sided lower bound, at `confidence`, of (student − teacher) accuracy."""
    if not (len(student_probs) == len(teacher_probs) == len(gold)):
        raise ValueError("student, teacher and gold must cover the same chunks")
    s_pred = np.array([int(np.argmax(p)) for p in student_probs])
    t_pred = np.array([int(np.argmax(p)) for p in teacher_probs])
    g = np.asarray(gold)
    student, teacher = (
        scores(student_probs, gold, n_labels, not_relevant),
        scores(teacher_probs, gold, n_labels, not_relevant),
    )

    def acc(pred):
        return lambda idx: float((pred[idx] == g[idx]).mean())

    def recall(idx):
        relevant = g[idx] != not_relevant
        return float((s_pred[idx][relevant] != not_relevant).mean()) if relevant.any() else None

    def gs(idx):
        relevant = g[idx] != not_relevant
        return float((s_pred[idx][relevant] == g[idx][relevant]).mean()) if relevant.any() else None

    def relevance_accuracy(idx):
        return float(((s_pred[idx] != not_relevant) == (g[idx] != not_relevant)).mean())

    def precision(idx):
        said_relevant = s_pred[idx] != not_relevant
        return float((g[idx][said_relevant] != not_relevant).mean()) if said_relevant.any() else None

    n = len(g)
    difference = m.bootstrap_ci(
        lambda idx: acc(s_pred)(idx) - acc(t_pred)(idx), n, resamples, seed, level=2 * confidence - 1
    )
    paired = Paired(
        n=n,
        not_relevant=not_relevant,
        agreement_top1=m.agreement(s_pred.tolist(), t_pred.tolist()),
        accuracy_gap=None if student.accuracy is None else teacher.accuracy - student.accuracy,
        mcnemar=McNemar(**m.mcnemar((t_pred == g).tolist(), (s_pred == g).tolist())),
        ci95={
            "accuracy": m.bootstrap_ci(acc(s_pred), n, resamples, seed),
            "relevance_accuracy": m.bootstrap_ci(relevance_accuracy, n, resamples, seed),
            "precision": m.bootstrap_ci(precision, n, resamples, seed),
            "recall": m.bootstrap_ci(recall, n, resamples, seed),
            "gs_accuracy": m.bootstrap_ci(gs, n, resamples, seed),
            "accuracy_gap": m.bootstrap_ci(lambda idx: acc(t_pred)(idx) - acc(s_pred)(idx), n, resamples, seed),
        },
        noninferiority=Bound(confidence=confidence, lower_bound=difference[0] if difference else None),
    )
    return PairedResult(student=student, teacher=teacher, paired=paired)
