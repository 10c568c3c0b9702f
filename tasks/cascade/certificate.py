"""A cascade threshold certified with a finite-sample guarantee (Learn-then-Test, Angelopoulos
et al., arXiv 2110.01052), instead of one chosen and judged on the same chunks.

The guarantee, in one sentence: with probability at least 1 − δ, every threshold ever certified
at (ε, δ) loses at most ε: the share of an article's chunks the student decides and gets
"wrong", averaged over articles drawn like the calibration sample, is at most ε. Assumed: the
calibration articles are drawn independently from the news the cascade then tags
(exchangeable within the calibration window); nothing about the chunks inside an article. The
loss is consistency (the student's label differs from the teacher's) or, against gold,
accuracy loss (wrong where the teacher is right); either bounds the accuracy lost.

How: each threshold λ of the grid, from the safest (the student decides nothing) to the most
aggressive, is a null hypothesis H0(λ): risk(λ) ≥ ε, tested by the article-level betting
e-value of `evalues.py` (the article is the unit: chunks of one article are correlated). Its
p-value min(1, 1/E) stays valid as the sample grows and is tested again (Ville's inequality), so
re-evaluating a model on more data is no free re-test. Fixed-sequence testing rejects the
thresholds in that order and stops at the first it cannot reject (the order is fixed before the
data). Candidates share the calibration data, so the j-th model tested at one (ε, δ) is tested
at δ_j = δ·6/(π²j²) (`candidate_level`). The certified threshold is the most aggressive one
rejected. None rejected means nothing is certified: the teacher keeps deciding.

Plain functions over numpy arrays: no store, no Prefect, no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from upscway.results import Certificate, PaperBound, Tested
from upscway.tasks.cascade.evalues import article_shares, candidate_level, certify_p, samples_needed
from upscway.tasks.cascade.policy import CascadePolicy

# The grid: every 0.05, finer above 0.95 where a well-trained student's calibrated confidences
# crowd (on the news stream the most confident 40% of a student's answers sat above 0.98, with a
# loss the certificate could pass, while 0.95 let in 60% at a loss it could not), and 1.01: the
# teacher decides everything. Fixed-sequence testing spends nothing per threshold, and a point
# added above a certified one is certified too (it decides a subset: no article loses more).
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(20)) + (0.95, 0.96, 0.97, 0.98, 0.99, 0.995, 0.999, 1.0, 1.01)
SAFEST_FIRST = tuple(sorted(THRESHOLDS, reverse=True))  # 1.01 (the teacher decides everything) first


@cache
def _stats():
    """scipy.stats, imported when first needed: every CLI command imports the gate through the
    flows, and scipy.stats costs half a second and a BLAS thread pool to import."""
    import scipy.stats

    return scipy.stats


def chunk_p_value(losses: int, n: int, epsilon: float) -> float:
    """The chunk-level test the certificate used before issue 32, kept to show its flaw (tests):
    the exact binomial p-value of H0: risk > ε after `losses` of `n` chunks, P(Binomial(n, ε) ≤
    losses). Exact only when chunks are independent; chunks of one article are not, and then it
    certifies a risk of ε up to three times as often as δ."""
    if n == 0:
        return 1.0
    return float(_stats().binom.cdf(losses, n, epsilon))


def upper_bound(losses: int, n: int, delta: float) -> float:
    """The one-sided Clopper–Pearson upper confidence bound, at level 1 − δ, of a rate seen as
    `losses` of `n`."""
    if n == 0 or losses >= n:
        return 1.0
    return float(_stats().beta.ppf(1 - delta, losses + 1, n - losses))


def offload_interval(decided: np.ndarray, delta: float) -> tuple[float, float]:
    """The two-sided Hoeffding interval, at level 1 − δ, of the mean of per-article shares in
    [0, 1] (the article-averaged offload): valid when chunks of an article are correlated."""
    n = len(decided)
    if n == 0:
        return 0.0, 1.0
    mean, half = float(np.mean(decided)), float(np.sqrt(np.log(2 / delta) / (2 * n)))
    return max(0.0, mean - half), min(1.0, mean + half)


def supported_epsilon(shares: np.ndarray, level: float) -> float:
    """The smallest ε whose H0 these article loss shares reject at `level`: what the sample would
    support, computed after seeing it, so never a certificate (1.0: none)."""
    if certify_p(shares, 1 - 1e-9) > level:
        return 1.0
    low, high = 0.0, 1 - 1e-9
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if certify_p(shares, mid) > level else (low, mid)
    return high


def _wrong(probs: np.ndarray, reference, counts) -> np.ndarray:
    """Per chunk: whether it is a loss where the student decides it (wrong against the
    reference, and counted). Which chunks it decides is the routing rule `tag` deploys,
    `CascadePolicy.decided`, which never takes scores that are not finite."""
    wrong = probs.argmax(axis=1) != np.asarray(reference)
    if counts is not None:
        wrong &= np.asarray(counts, dtype=bool)
    return wrong


@dataclass(frozen=True)
class Sample:
    """A calibration sample: the student's probabilities on its chunks, each chunk's reference
    label, (for accuracy loss) which chunks can count as losses (the teacher is right), and each
    chunk's article (None: every chunk an article of its own)."""

    student: Sequence[Sequence[float]]
    reference: Sequence[int]
    counts: Sequence[bool] | None = None
    articles: Sequence[str] | None = None

    def article_ids(self) -> np.ndarray:
        if self.articles is None:
            return np.arange(len(self.student)).astype(str)
        return np.asarray(self.articles, dtype=str)


def risk_curve(
    sample: Sample, policy: CascadePolicy, epsilon: float, delta: float, thresholds=SAFEST_FIRST
) -> list[Tested]:
    """Every threshold, in the order given: what the student decides and loses on the sample
    (chunks), with the article-level p-value of H0: risk ≥ ε, and the chunk count's
    Clopper–Pearson upper bound at `delta` (a description of the sample, not part of the guarantee)."""
    n = len(sample.student)
    if n == 0:
        return [Tested(threshold=t, decided=0, losses=0, p_value=1.0, upper_bound=1.0) for t in thresholds]
    probs = np.asarray(sample.student, dtype=float)
    wrong, articles = _wrong(probs, sample.reference, sample.counts), sample.article_ids()
    curve = []
    for threshold in thresholds:
        sure = policy.at(threshold).decided(probs)
        lost = sure & wrong
        losses, shares = int(lost.sum()), article_shares(lost, articles)
        curve.append(
            Tested(
                threshold=threshold,
                decided=int(sure.sum()),
                losses=losses,
                p_value=certify_p(shares, epsilon),
                upper_bound=upper_bound(losses, n, delta),
                article_loss=float(shares.mean()),
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
    """Certify a threshold on a calibration sample at level `delta` (already spent over
    candidates and losses): the thresholds are tested in order, and the sequence stops at the
    first not rejected; one at which the student decides no chunk of the sample is no
    certificate (the teacher decides everything anyway). The certificate keeps the whole curve,
    the article-averaged offload with its own interval, and the per-paper guard."""
    n, policy = len(sample.student), CascadePolicy(1.01, band, not_relevant)
    articles = sample.article_ids()
    curve = risk_curve(sample, policy, epsilon, delta, thresholds)
    certified = None
    for test in curve:
        if test.p_value > delta:
            break
        certified = test
    common = {
        "loss": loss,
        "epsilon": epsilon,
        "delta": delta,
        "n": n,
        "articles": len(set(articles.tolist())),
        "curve": tuple(curve),
    }
    # a threshold at which the student decides nothing certifies nothing
    if certified is None or certified.decided == 0:
        return Certificate(**common)
    sure = policy.at(certified.threshold).decided(np.asarray(sample.student, dtype=float))
    shares = article_shares(sure, articles)
    return Certificate(
        **common,
        threshold=certified.threshold,
        upper_bound=certified.upper_bound,
        offload=float(shares.mean()),
        offload_interval=offload_interval(shares, delta),
        per_paper=paper_bounds(sample, policy.at(certified.threshold), delta),
    )


def paper_bounds(sample: Sample, policy: CascadePolicy, delta: float) -> dict[str, PaperBound]:
    """Per paper (each reference label but the policy's `not_relevant`), at the policy's
    threshold: the chunks with that reference label, the student's losses among them, and the
    Clopper–Pearson upper bound of that share at 1 − δ."""
    if len(sample.student) == 0:
        return {}
    reference, probs = np.asarray(sample.reference), np.asarray(sample.student, dtype=float)
    wrong = _wrong(probs, reference, sample.counts)
    sure = policy.decided(probs)
    bounds = {}
    for paper in sorted(set(reference.tolist()) - {policy.not_relevant}):
        mine = reference == paper
        n, losses = int(mine.sum()), int((mine & sure & wrong).sum())
        bounds[str(paper)] = PaperBound(n=n, losses=losses, upper_bound=upper_bound(losses, n, delta))
    return bounds


def certify_cascade(
    consistency: Sample,
    accuracy: Sample | None,
    not_relevant: int,
    band: tuple[float, float],
    epsilon: float,
    delta: float,
    candidate: int = 1,
) -> tuple[Certificate | None, tuple[Certificate, ...]]:
    """The certificate the gate uses, and every one computed, for the `candidate`-th model
    tested at (ε, δ): its level δ_j (`candidate_level`), split in two (Bonferroni) when random
    gold as well as held-out teacher answers certify, so that both statements hold together and
    the more aggressive of the two (the one returned) may be used: either loss bounds the
    accuracy the cascade loses against the teacher. None: no sample at all."""
    samples = [("consistency", consistency), ("accuracy", accuracy)]
    samples = [(name, sample) for name, sample in samples if sample is not None and len(sample.student)]
    if not samples:
        return None, ()
    level = candidate_level(candidate, delta) / len(samples)
    certificates = tuple(
        certify(sample, not_relevant, band, epsilon, level, loss=name).model_copy(update={"candidate": candidate})
        for name, sample in samples
    )
    return max(certificates, key=lambda c: (c.offload, c.threshold is not None)), certificates


@dataclass(frozen=True)
class Shortfall:
    """What more data would certify `target` offload: at the least aggressive threshold that
    reaches it, the loss rate on the sample, about how many articles at that rate would certify ε
    with 80% power (None: no sample would, the rate is not below ε), the smallest ε this sample
    would support there (computed after seeing it: never a certificate), and a lower bound of the
    article-averaged loss (at or above ε: with confidence 1 − level, no amount of this data
    certifies that offload)."""

    threshold: float
    offload: float
    loss_rate: float
    needed: int | None
    would_support: float
    rate_at_least: float
    epsilon: float

    @property
    def hopeless(self) -> bool:
        return self.rate_at_least >= self.epsilon


def shortfall(certificate: Certificate, target: float) -> Shortfall | None:
    """The arithmetic behind "label N more" for `certificate`'s own loss, level and ε; None
    when no threshold of the curve reaches `target` offload on the sample, or lets the student
    decide any chunk at all (or the sample is empty). Fixed-sequence testing rejects every safer
    threshold first, and their losses are fewer, so the point's own test decides."""
    n = certificate.n
    point = next((t for t in certificate.curve if n and t.decided >= max(target * n, 1)), None)
    if point is None:
        return None
    epsilon, level = certificate.epsilon, certificate.delta
    rate = point.losses / n if point.article_loss is None else point.article_loss  # the certified loss: per article
    articles = certificate.articles or n
    lost = round(rate * articles)
    as_if = np.r_[np.ones(lost), np.zeros(articles - lost)]  # as if each loss were an article of its own
    return Shortfall(
        threshold=point.threshold,
        offload=point.decided / n,
        loss_rate=rate,
        needed=samples_needed(rate, epsilon, level),
        would_support=supported_epsilon(as_if, level),
        rate_at_least=max(0.0, rate - float(np.sqrt(np.log(1 / level) / (2 * articles)))),  # Hoeffding, per article
        epsilon=epsilon,
    )
