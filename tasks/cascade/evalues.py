"""E-values for the cascade's guarantee: valid however often they are looked at, and with the
article as the unit (chunks of one article are correlated; articles are not).

Three tools, all from betting (Waudby-Smith & Ramdas, arXiv 2010.09686; Ramdas et al., "game-
theoretic statistics and safe anytime-valid inference", arXiv 2210.01948):

- `certify_e`: the certificate's test. Each calibration article contributes its loss share
  ℓ = (chunks the student decides and gets wrong) / (its chunks), in [0, 1]; the risk certified
  is E[ℓ], the share of an article's chunks the cascade loses, averaged over articles like these.
  H0: E[ℓ] ≥ ε is tested with a mixture of constant bets, E = Σ_j w_j ∏_i (1 + λ_j (ε − ℓ_i)):
  under H0 each product is a nonnegative supermartingale in the articles' arrival order, so
  P(E ever ≥ 1/α) ≤ α (Ville's inequality) however the sample grows and however often it is
  tested; and min(1, 1/E) is a p-value. Assumed: the articles are drawn independently from one
  distribution (exchangeable within the calibration window). Nothing is assumed about the chunks
  inside an article.
- `candidate_level`: the error budget spent over candidates. The j-th model ever tested at one
  (ε, δ) is tested at δ_j = δ·6/(π²j²) (Σ δ_j = δ), so the chance that any model ever certified
  on the shared calibration data is worse than ε is at most δ; a model tested again keeps its j
  (its e-value stays valid as its sample grows).
- `night_e` / `Detector` / `night_upper_bound`: the live check. Tonight's audit samples the texts
  the student decided independently with probability a (Bernoulli sampling), so, whatever the
  correlation between chunks, each factor 1 + λ_t (I_t W_t / a − ε V_t) has expectation
  1 + λ_t (W_t − ε V_t) (design-based: the randomness is the sampling's own). With W_t the text's
  share of tonight's article-averaged loss and V_t its share of the articles, the product over
  tonight's texts is an e-value for H0: tonight's loss ≤ ε. The change-point mixture e-detector
  (Shin, Ramdas & Rinaldo, arXiv 2203.03532) sums, over every night k the change could have
  started, π_k ∏_{i=k..t} e_i; it is a nonnegative supermartingale while every night's loss is
  ≤ ε, so the chance it ever reaches 1/δ on calm nights is at most δ over any horizon, and a rise
  starting on night k needs only log(1/(δ π_k)) of evidence: the age costs ~2 log k, not a level
  that shrinks like 1/k².

Plain functions over numpy arrays: no store, no Prefect, no model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The certificate's bets, as fractions c of the largest bet 1/(1 − ε), and their weights: half
# on the bold bet that certifies fastest when nothing is lost (as fast as the exact binomial at
# zero losses, but for the weight), the rest spread for samples with some losses.
CERTIFY_BETS = (0.99, 0.7, 0.5, 0.35, 0.2, 0.1, 0.05)
CERTIFY_WEIGHTS = (0.5,) + (0.5 / 6,) * 6
# The live check's bets, as multiples x of the audit rate (λ = x·a): the likelihood ratio of a
# loss (1 + x) times ε.
NIGHT_BETS = (0.5, 1.0, 2.0, 4.0)
BOUND_BETS = (0.25, 0.5, 0.75, 0.95)  # fractions of the largest bet that keeps an upper-bound factor ≥ 0


def article_shares(lost: Sequence[bool], articles: Sequence[str]) -> np.ndarray:
    """Per article (in order of first appearance): the share of its chunks in the sample that are
    losses."""
    lost, articles = np.asarray(lost, dtype=float), np.asarray(articles)
    if len(lost) == 0:
        return np.zeros(0)
    _, first, inverse = np.unique(articles, return_index=True, return_inverse=True)
    shares = np.bincount(inverse, weights=lost) / np.bincount(inverse)
    return shares[np.argsort(first)]


def _log_mixture(log_terms: np.ndarray, weights: Sequence[float]) -> float:
    """log Σ_j w_j exp(log_terms[j]), without overflow."""
    top = float(np.max(log_terms))
    if not math.isfinite(top):
        return top
    return top + math.log(float(np.sum(np.asarray(weights) * np.exp(log_terms - top))))


def certify_log_e(shares: Sequence[float], epsilon: float) -> float:
    """log E for H0: E[ℓ] ≥ ε on these article loss shares (see the module's docstring)."""
    shares = np.asarray(shares, dtype=float)
    if len(shares) == 0:
        return 0.0
    logs = []
    for c in CERTIFY_BETS:
        factors = 1 + (c / (1 - epsilon)) * (epsilon - shares)  # ≥ 1 − c > 0
        logs.append(float(np.log(factors).sum()))
    return _log_mixture(np.array(logs), CERTIFY_WEIGHTS)


def certify_p(shares: Sequence[float], epsilon: float) -> float:
    """The e-value's p-value, min(1, 1/E): valid at any sample size and under optional continuation."""
    return float(min(1.0, math.exp(-certify_log_e(shares, epsilon))))


def candidate_level(candidate: int, delta: float) -> float:
    """δ_j for the `candidate`-th model tested at this (ε, δ) (1: the first): δ·6/(π²j²)."""
    if candidate < 1:
        raise ValueError(f"candidate numbers start at 1, not {candidate}")
    return delta * 6 / (math.pi**2 * candidate**2)


def _certifies(n: int, losses: np.ndarray, epsilon: float, level: float) -> np.ndarray:
    """Whether n one-chunk articles with `losses` lost (an array) certify ε at `level`."""
    logs = np.stack(
        [(n - losses) * math.log(1 + c * epsilon / (1 - epsilon)) + losses * math.log(1 - c) for c in CERTIFY_BETS]
    )
    top = logs.max(axis=0)
    log_e = top + np.log((np.asarray(CERTIFY_WEIGHTS)[:, None] * np.exp(logs - top)).sum(axis=0))
    return log_e >= math.log(1 / level)


def power(n: int, loss_rate: float, epsilon: float, level: float) -> float:
    """The chance that n articles of one chunk each, losing at `loss_rate`, certify ε at `level`."""
    from scipy.stats import binom

    losses = np.arange(min(n, int(epsilon * n) + 1) + 1)  # more than εn losses never certifies
    ok = _certifies(n, losses, epsilon, level)
    if not ok.any():
        return 0.0
    return float(binom.cdf(int(losses[ok].max()), n, loss_rate))


def samples_needed(
    loss_rate: float, epsilon: float, level: float, target: float = 0.8, most: int = 200_000
) -> int | None:
    """About how many articles of one chunk each, losing at `loss_rate`, certify ε at `level` with
    probability `target` (80% power); None when the rate is not below ε or more than `most` would
    be needed. Multi-chunk articles whose chunks are lost independently need fewer; correlated, more."""
    if loss_rate >= epsilon:
        return None
    low, high = 0, 16
    while power(high, loss_rate, epsilon, level) < target:
        low, high = high, 2 * high
        if high > most:
            return None
    while high - low > max(1, high // 100):
        mid = (low + high) // 2
        low, high = (mid, high) if power(mid, loss_rate, epsilon, level) < target else (low, mid)
    return high


@dataclass(frozen=True)
class NightSample:
    """Tonight's audit, per text tonight (every chunk's text, the student's or not): its weight in
    tonight's article-averaged loss `share` (Σ over its chunks of 1/(chunks of their article), over
    the number of articles), whether the student decided it, whether it was audited, and whether
    the audit found it lost (decided, and labelled otherwise by the teacher); `rate` is the audit's
    sampling probability among the decided texts."""

    share: np.ndarray
    decided: np.ndarray
    audited: np.ndarray
    lost: np.ndarray
    rate: float

    @classmethod
    def of(cls, texts: Sequence[tuple[float, bool, bool, bool]], rate: float) -> NightSample:
        rows = np.asarray(texts, dtype=float).reshape(-1, 4)
        return cls(rows[:, 0], rows[:, 1].astype(bool), rows[:, 2].astype(bool), rows[:, 3].astype(bool), rate)

    @property
    def estimate(self) -> float | None:
        """The Horvitz–Thompson estimate of tonight's loss (None without an audit)."""
        if self.rate <= 0:
            return None
        return float((self.share * (self.audited & self.lost)).sum() / self.rate)


def night_log_e(night: NightSample, epsilon: float) -> float:
    """log e_t for H0: tonight's article-averaged loss ≤ ε (see the module's docstring). Without an
    audit (rate 0) there is no evidence: 0."""
    a = night.rate
    if a <= 0 or not night.decided.any():
        return 0.0
    seen = night.audited & night.lost
    logs = []
    for x in NIGHT_BETS:
        lam = min(x * a * len(night.share), 0.99 / (epsilon * float(night.share.max())))
        factors = 1 + lam * (np.where(seen, night.share / a, 0.0) - epsilon * night.share)
        logs.append(float(np.log(factors).sum()))
    return _log_mixture(np.array(logs), [1 / len(NIGHT_BETS)] * len(NIGHT_BETS))


def night_upper_bound(night: NightSample, level: float) -> float:
    """Tonight's upper bound of the article-averaged loss: with probability at least 1 − `level`
    over tonight's audit draw, tonight's loss is below it (the e-values for H0: loss ≥ L, by
    bisection on L). 1.0 without an audit."""
    a = night.rate
    if not night.decided.any():
        return 0.0  # the student decided nothing: it lost nothing
    if a <= 0:
        return 1.0
    seen = night.audited & night.lost
    observed = np.where(seen, night.share / a, 0.0)
    biggest = float((night.share[night.decided] / a).max())  # the largest a text could show, fixed before the draw

    def log_e(bound: float) -> float:
        logs = []
        for y in BOUND_BETS:
            lam = y / biggest
            logs.append(float(np.log(1 + lam * (bound * night.share - observed)).sum()))
        return _log_mixture(np.array(logs), [1 / len(BOUND_BETS)] * len(BOUND_BETS))

    target = math.log(1 / level)
    if log_e(1.0) < target:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if log_e(mid) < target else (low, mid)
    return high


def start_weight(night: int) -> float:
    """π_k: the detector's prior weight on a change starting on night k (Σ π_k = 1)."""
    return 6 / (math.pi**2 * night**2)


@dataclass(frozen=True)
class Detector:
    """The change-point mixture e-detector after `night` nights: log S_t, S_t = (S_{t−1} + π_t)·e_t;
    it alarms when S_t ≥ 1/δ."""

    night: int = 0
    log_value: float = -math.inf

    def update(self, log_e: float) -> Detector:
        night = self.night + 1
        grown = np.logaddexp(self.log_value, math.log(start_weight(night)))
        return Detector(night=night, log_value=float(grown + log_e))

    def alarms(self, delta: float) -> bool:
        return self.log_value >= math.log(1 / delta)

    @property
    def value(self) -> float:
        return math.exp(min(self.log_value, 700.0))
