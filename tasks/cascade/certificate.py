"""A cascade threshold certified with a finite-sample guarantee (Learn-then-Test, Angelopoulos
et al., arXiv 2110.01052), instead of one chosen and judged on the same chunks.

The guarantee, in one sentence: with probability at least 1 − δ over the calibration sample,
the cascade at the certified threshold loses at most ε accuracy against the teacher on chunks
drawn like that sample. The risk bounded is the share of chunks the student decides and gets
"wrong": its label differs from the teacher's (consistency), or, against gold, it is wrong where
the teacher is right (accuracy loss); either bounds the accuracy lost.

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
from functools import cache

import numpy as np

from upscway.results import Certificate, PaperBound, Tested
from upscway.tasks.cascade.policy import CascadePolicy

THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(21)) + (1.01,)  # the grid; 1.01: the teacher decides everything
SAFEST_FIRST = tuple(sorted(THRESHOLDS, reverse=True))  # 1.01 (the teacher decides everything) first


@cache
def _stats():
    """scipy.stats, imported when first needed: every CLI command imports the gate through the
    flows, and scipy.stats costs half a second and a BLAS thread pool to import."""
    import scipy.stats

    return scipy.stats


def p_value(losses: int, n: int, epsilon: float) -> float:
    """The exact p-value of H0: risk > ε after `losses` of `n` chunks: P(Binomial(n, ε) ≤ losses).
    Valid for any risk ≥ ε, since the binomial tail only grows as the risk falls."""
    if n == 0:
        return 1.0
    return float(_stats().binom.cdf(losses, n, epsilon))


def upper_bound(losses: int, n: int, delta: float) -> float:
    """The one-sided Clopper–Pearson upper confidence bound, at level 1 − δ, of a rate seen as
    `losses` of `n`."""
    if n == 0 or losses >= n:
        return 1.0
    return float(_stats().beta.ppf(1 - delta, losses + 1, n - losses))


def lower_bound(losses: int, n: int, delta: float) -> float:
    """The one-sided Clopper–Pearson lower confidence bound, at level 1 − δ, of a rate seen as
    `losses` of `n`."""
    if n == 0 or losses == 0:
        return 0.0
    return float(_stats().beta.ppf(delta, losses, n - losses + 1))


def interval(count: int, n: int, delta: float) -> tuple[float, float]:
    """The two-sided Clopper–Pearson interval, at level 1 − δ, of a share seen as `count` of `n`."""
    if n == 0:
        return 0.0, 1.0
    low = 0.0 if count == 0 else float(_stats().beta.ppf(delta / 2, count, n - count + 1))
    high = 1.0 if count == n else float(_stats().beta.ppf(1 - delta / 2, count + 1, n - count))
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
        certifies = _stats().binom.cdf(np.floor(loss_rate * n + 1e-9), n, epsilon) <= delta
        if certifies.any():
            return int(n[certifies.argmax()])
        start = int(n[-1]) + 1
    return None


def _wrong(probs: np.ndarray, reference, counts) -> np.ndarray:
    """Per chunk: whether it is a loss where the student decides it (wrong against the
    reference, and counted). Which chunks it decides is the routing rule `tag` deploys,
    `CascadePolicy.decided`, which never takes scores that are not finite."""
    wrong = probs.argmax(axis=1) != np.asarray(reference)
    if counts is not None:
        wrong &= np.asarray(counts, dtype=bool)
    return wrong


def risk_curve(
    student: Sequence[Sequence[float]],
    reference: Sequence[int],
    not_relevant: int,
    band: tuple[float, float],
    epsilon: float,
    delta: float,
    thresholds: Sequence[float] = SAFEST_FIRST,
    counts: Sequence[bool] | None = None,
) -> list[Tested]:
    """Every threshold, in the order given: what the student decides and loses on the sample
    (the student's probabilities and each chunk's reference label, the teacher's for
    consistency; with `counts`, only chunks where it is True can be losses: accuracy loss,
    where the teacher is right), with the p-value of H0: risk > ε and the risk's upper bound."""
    n = len(student)
    if n == 0:
        return [Tested(threshold=t, decided=0, losses=0, p_value=1.0, upper_bound=1.0) for t in thresholds]
    probs = np.asarray(student, dtype=float)
    wrong = _wrong(probs, reference, counts)
    curve = []
    for threshold in thresholds:
        sure = CascadePolicy(threshold, band, not_relevant).decided(probs)
        losses = int((sure & wrong).sum())
        curve.append(
            Tested(
                threshold=threshold,
                decided=int(sure.sum()),
                losses=losses,
                p_value=p_value(losses, n, epsilon),
                upper_bound=upper_bound(losses, n, delta),
            )
        )
    return curve


def certify(
    sample: Sample,
    not_relevant: int,
    band: tuple[float, float],
    epsilon: float,
    delta: float,
    thresholds: Sequence[float] = SAFEST_FIRST,
    loss: str = "consistency",
) -> Certificate:
    """Certify a threshold on a calibration sample (see `risk_curve` for the arguments): the
    thresholds are tested in order, and the sequence stops at the first not rejected; one at
    which the student decides no chunk of the sample is no certificate (the teacher decides
    everything anyway). The certificate keeps the whole curve, and the per-paper guard at the
    certified threshold."""
    student, reference, counts = sample.student, sample.reference, sample.counts
    n = len(student)
    curve = risk_curve(student, reference, not_relevant, band, epsilon, delta, thresholds, counts)
    certified = None
    for test in curve:
        if test.p_value > delta:
            break
        certified = test
    # a threshold at which the student decides nothing certifies nothing
    if certified is None or certified.decided == 0:
        return Certificate(loss=loss, epsilon=epsilon, delta=delta, n=n, curve=tuple(curve))
    return Certificate(
        loss=loss,
        epsilon=epsilon,
        delta=delta,
        n=n,
        threshold=certified.threshold,
        upper_bound=certified.upper_bound,
        offload=certified.decided / n,
        offload_interval=interval(certified.decided, n, delta),
        curve=tuple(curve),
        per_paper=paper_bounds(student, reference, not_relevant, band, certified.threshold, delta, counts),
    )


def paper_bounds(
    student: Sequence[Sequence[float]],
    reference: Sequence[int],
    not_relevant: int,
    band: tuple[float, float],
    threshold: float,
    delta: float,
    counts: Sequence[bool] | None = None,
) -> dict[str, PaperBound]:
    """Per paper (each reference label but `not_relevant`), at `threshold`: the chunks with that
    reference label, the student's losses among them, and the Clopper–Pearson upper bound of
    that share at 1 − δ."""
    if len(student) == 0:
        return {}
    reference, probs = np.asarray(reference), np.asarray(student, dtype=float)
    wrong = _wrong(probs, reference, counts)
    sure = CascadePolicy(threshold, band, not_relevant).decided(probs)
    bounds = {}
    for paper in sorted(set(reference.tolist()) - {not_relevant}):
        mine = reference == paper
        n, losses = int(mine.sum()), int((mine & sure & wrong).sum())
        bounds[str(paper)] = PaperBound(n=n, losses=losses, upper_bound=upper_bound(losses, n, delta))
    return bounds


@dataclass(frozen=True)
class Sample:
    """A calibration sample: the student's probabilities on its chunks, each chunk's reference
    label, and (for accuracy loss) which chunks can count as losses (the teacher is right)."""

    student: Sequence[Sequence[float]]
    reference: Sequence[int]
    counts: Sequence[bool] | None = None


def certify_cascade(
    consistency: Sample,
    accuracy: Sample | None,
    not_relevant: int,
    band: tuple[float, float],
    epsilon: float,
    delta: float,
) -> tuple[Certificate | None, tuple[Certificate, ...]]:
    """The certificate the gate uses, and every one computed. With random gold as well as
    held-out teacher answers, both losses are certified at δ/2 each (Bonferroni), so that both
    statements hold together with probability 1 − δ and the more aggressive of the two (the
    one returned) may be used: either loss bounds the accuracy the cascade loses against the
    teacher. With no random gold, consistency alone at δ. None: no sample at all."""
    samples = [("consistency", consistency), ("accuracy", accuracy)]
    samples = [(name, sample) for name, sample in samples if sample is not None and len(sample.student)]
    if not samples:
        return None, ()
    level = delta / len(samples)
    certificates = tuple(certify(sample, not_relevant, band, epsilon, level, loss=name) for name, sample in samples)
    return max(certificates, key=lambda c: (c.offload, c.threshold is not None)), certificates


@dataclass(frozen=True)
class Shortfall:
    """What more data would certify `target` offload: at the least aggressive threshold that
    reaches it, the loss rate on the sample, the fewest chunks that would certify ε at that
    rate (None: no sample would, the rate is not below ε), the smallest ε that the sample it
    has certifies there, and the rate's lower confidence bound (at or above ε: with confidence
    1 − δ, no amount of this data certifies that offload)."""

    threshold: float
    offload: float
    loss_rate: float
    needed: int | None
    epsilon_now: float
    rate_at_least: float
    epsilon: float

    @property
    def hopeless(self) -> bool:
        return self.rate_at_least >= self.epsilon


def shortfall(certificate: Certificate, target: float) -> Shortfall | None:
    """The arithmetic behind "label N more" for `certificate`'s own loss, level and ε; None
    when no threshold of the curve reaches `target` offload on the sample, or lets the student
    decide any chunk at all (or the sample is empty).
    Fixed-sequence testing rejects every safer threshold first, and their losses are fewer,
    so the point's own binomial test decides."""
    n = certificate.n
    point = next((t for t in certificate.curve if n and t.decided >= max(target * n, 1)), None)
    if point is None:
        return None
    rate, epsilon, delta = point.losses / n, certificate.epsilon, certificate.delta
    return Shortfall(
        threshold=point.threshold,
        offload=point.decided / n,
        loss_rate=rate,
        needed=samples_needed(rate, epsilon, delta),
        epsilon_now=point.upper_bound,
        rate_at_least=lower_bound(point.losses, n, delta),
        epsilon=epsilon,
    )
