"""A cascade threshold certified with a finite-sample guarantee (Learn-then-Test, Angelopoulos
et al., arXiv 2110.01052), instead of one chosen and judged on the same chunks.

The guarantee, in one sentence: with probability at least 1 − δ over the calibration sample,
the cascade at the certified threshold has risk at most ε on chunks drawn like that sample,
where the risk is the share of chunks the student decides and gets "wrong" (its label differs
from the reference: the teacher's, for consistency; or, for accuracy loss, it is wrong where the
teacher is right, against gold).

How: each threshold λ of the grid, from the safest (the student decides nothing) to the most
aggressive, is a null hypothesis H0(λ): risk(λ) > ε, tested with the exact binomial p-value of
its losses on the sample (the losses are 0/1, so under H0 their count is stochastically at
least Binomial(n, ε)). Fixed-sequence testing at level δ rejects them in that order and stops at
the first it cannot reject; no multiplicity correction is needed, because the order is fixed
before the data is seen. The certified threshold is the most aggressive one rejected. None
rejected means nothing is certified: the teacher keeps deciding.

Plain functions over numpy arrays: no store, no Prefect, no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta, binom

from upscway.tasks.tag.evaluation import THRESHOLDS

SAFEST_FIRST = tuple(sorted(THRESHOLDS, reverse=True))  # 1.01 (the teacher decides everything) first


def p_value(losses: int, n: int, epsilon: float) -> float:
    """The exact p-value of H0: risk > ε after `losses` of `n` chunks: P(Binomial(n, ε) ≤ losses).
    Valid for any risk ≥ ε, since the binomial tail only grows as the risk falls."""
    if n == 0:
        return 1.0
    return float(binom.cdf(losses, n, epsilon))


def upper_bound(losses: int, n: int, delta: float) -> float:
    """The one-sided Clopper–Pearson upper confidence bound, at level 1 − δ, of a rate seen as
    `losses` of `n`."""
    if n == 0 or losses >= n:
        return 1.0
    return float(beta.ppf(1 - delta, losses + 1, n - losses))


def interval(count: int, n: int, delta: float) -> tuple[float, float]:
    """The two-sided Clopper–Pearson interval, at level 1 − δ, of a share seen as `count` of `n`."""
    if n == 0:
        return 0.0, 1.0
    low = 0.0 if count == 0 else float(beta.ppf(delta / 2, count, n - count + 1))
    high = 1.0 if count == n else float(beta.ppf(1 - delta / 2, count + 1, n - count))
    return low, high


def samples_needed(loss_rate: float, epsilon: float, delta: float, most: int = 10_000_000) -> int | None:
    """The fewest chunks on which a loss rate of `loss_rate` would certify risk ≤ ε at level δ
    (the smallest n with P(Binomial(n, ε) ≤ ⌊loss_rate·n⌋) ≤ δ); None when no sample would (the
    rate is not below ε) or more than `most` would be needed. Scanned in growing windows: the
    condition is not monotone in n (the floor), so no bisection."""
    if loss_rate >= epsilon:
        return None
    start = 1
    while start <= most:
        n = np.arange(start, min(4 * start, most) + 1)
        certifies = binom.cdf(np.floor(loss_rate * n + 1e-9), n, epsilon) <= delta
        if certifies.any():
            return int(n[certifies.argmax()])
        start = int(n[-1]) + 1
    return None


@dataclass(frozen=True)
class Tested:
    """One threshold of the sequence: how many chunks the student decided, how many of those it
    lost, the p-value of H0: risk > ε, and the upper bound of the risk."""

    threshold: float
    decided: int
    losses: int
    p_value: float
    upper_bound: float


@dataclass(frozen=True)
class Certificate:
    """What fixed-sequence testing certified on `n` chunks: the most aggressive threshold whose
    H0 was rejected (None: nothing), with its risk's upper bound and the share the student
    decides there (with its interval); and every threshold tested, in order."""

    epsilon: float
    delta: float
    n: int
    threshold: float | None
    upper_bound: float | None
    offload: float
    offload_interval: tuple[float, float]
    tested: tuple[Tested, ...]

    def sentence(self, what: str = "disagrees with the teacher") -> str:
        """The guarantee in one sentence, as every place that shows a verdict states it."""
        if self.threshold is None:
            return (f"Not certified: on {self.n} chunks no threshold keeps the share of chunks on which the student decides and "
                    f"{what} at most {self.epsilon:g} with {1 - self.delta:.0%} confidence; the teacher keeps deciding.")
        low, high = self.offload_interval
        return (f"Certified: with {1 - self.delta:.0%} confidence, at threshold {self.threshold:g} the student decides and {what} "
                f"on at most {self.epsilon:g} of chunks (upper bound {self.upper_bound:.3f} on {self.n} chunks); it decides "
                f"{self.offload:.0%} of chunks ({low:.0%}–{high:.0%}).")


def decided(confidence: np.ndarray, relevance: np.ndarray, threshold: float, band: tuple[float, float]) -> np.ndarray:
    """Which chunks the student decides at `threshold`: sure enough, and relevance outside the
    band (the routing rule `tag` deploys, `routing.is_uncertain` negated)."""
    low, high = band
    return (confidence >= threshold) & ~((relevance >= low) & (relevance <= high))


def risk_curve(
    student: Sequence[Sequence[float]], reference: Sequence[int], not_relevant: int, band: tuple[float, float],
    epsilon: float, delta: float, thresholds: Sequence[float] = SAFEST_FIRST, counts: Sequence[bool] | None = None,
) -> list[Tested]:
    """Every threshold, in the order given: what the student decides and loses on the sample
    (the student's probabilities and each chunk's reference label, the teacher's for
    consistency; with `counts`, only chunks where it is True can be losses: accuracy loss,
    where the teacher is right), with the p-value of H0: risk > ε and the risk's upper bound."""
    probs = np.asarray(student, dtype=float)
    n = len(probs)
    if n == 0:
        return [Tested(t, 0, 0, 1.0, 1.0) for t in thresholds]
    wrong = probs.argmax(axis=1) != np.asarray(reference)
    if counts is not None:
        wrong &= np.asarray(counts, dtype=bool)
    confidence, relevance = probs.max(axis=1), 1.0 - probs[:, not_relevant]
    curve = []
    for threshold in thresholds:
        sure = decided(confidence, relevance, threshold, band)
        losses = int((sure & wrong).sum())
        curve.append(Tested(threshold, int(sure.sum()), losses, p_value(losses, n, epsilon), upper_bound(losses, n, delta)))
    return curve


def certify(
    student: Sequence[Sequence[float]], reference: Sequence[int], not_relevant: int, band: tuple[float, float],
    epsilon: float, delta: float, thresholds: Sequence[float] = SAFEST_FIRST, counts: Sequence[bool] | None = None,
) -> Certificate:
    """Certify a threshold on a calibration sample (see `risk_curve` for the arguments): the
    thresholds are tested in order, and the sequence stops at the first not rejected."""
    n = len(student)
    tested, certified = [], None
    for test in risk_curve(student, reference, not_relevant, band, epsilon, delta, thresholds, counts):
        tested.append(test)
        if test.p_value > delta:
            break
        certified = test
    if certified is None:
        return Certificate(epsilon, delta, n, None, None, 0.0, (0.0, 0.0), tuple(tested))
    return Certificate(epsilon, delta, n, certified.threshold, certified.upper_bound, certified.decided / n,
                       interval(certified.decided, n, delta), tuple(tested))
