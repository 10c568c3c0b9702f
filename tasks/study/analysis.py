"""What a study's arms say, from their rows: each arm's mean ± sd over seeds, each arm paired
with the reference arm, and each claim of a reference report judged by its intervals.

Two intervals for a difference in gold accuracy between arms A and B, each at 95%:

- **over seeds**: a t interval (scipy) of the per-seed differences acc(A, s) − acc(B, s), seed s
  of both arms on the same chunks. It covers the difference a retraining would show on these
  gold chunks, assuming the seeds' differences are normal; it says nothing of other chunks.
- **over chunks**: a BCa bootstrap interval (scipy) of the mean over gold chunks of
  d_i = (share of A's seeds right on chunk i) − (share of B's seeds right on chunk i). It covers
  the difference on news like these gold chunks, treating chunks as independent (chunks of one
  article are not: it is too narrow when they cluster), with the seeds averaged out.

A claim is **reproduced** when both intervals lie where the report says (beyond its margin),
**contradicted** when both lie on the other side, and **not resolved** otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from upscway.storage.studies import ArmRow

LEVEL = 0.95
FIGURES = ("accuracy", "macro_f1", "agreement", "ece", "chunks_per_s", "latency_ms_per_chunk", "parameters", "size_mb")


@dataclass(frozen=True)
class Difference:
    estimate: float
    over_seeds: tuple[float, float] | None
    over_chunks: tuple[float, float] | None


def by_arm(rows: Sequence[ArmRow]) -> dict[str, list[ArmRow]]:
    """Rows grouped by arm, each group in seed order."""
    groups: dict[str, list[ArmRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.seed):
        groups[row.arm].append(row)
    return dict(groups)


def mean_sd(rows: Sequence[ArmRow]) -> dict[str, tuple[float | None, float | None]]:
    """Each figure's mean and sample standard deviation over the arm's seeds."""
    out = {}
    for figure in FIGURES:
        values = [r.metrics[figure] for r in rows if r.metrics.get(figure) is not None]
        out[figure] = (
            float(np.mean(values)) if values else None,
            float(np.std(values, ddof=1)) if len(values) > 1 else None,
        )
    return out


def _t_interval(values: np.ndarray) -> tuple[float, float] | None:
    if len(values) < 2:
        return None
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    return tuple(float(v) for v in stats.ttest_1samp(values, 0.0).confidence_interval(LEVEL))


def _bootstrap_interval(values: np.ndarray) -> tuple[float, float] | None:
    if len(values) < 2:
        return None
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    result = stats.bootstrap((values,), np.mean, confidence_level=LEVEL, method="BCa", n_resamples=4000, random_state=0)
    low, high = result.confidence_interval
    return float(low), float(high)


def difference(a: Sequence[ArmRow], b: Sequence[ArmRow], gold: Sequence[int]) -> Difference:
    """acc(a) − acc(b) on the same gold chunks: the estimate and both intervals (module)."""
    gold = np.asarray(gold)
    correct_a = np.asarray([np.asarray(r.predictions) == gold for r in a], dtype=float)
    correct_b = np.asarray([np.asarray(r.predictions) == gold for r in b], dtype=float)
    per_chunk = correct_a.mean(axis=0) - correct_b.mean(axis=0)
    return Difference(float(per_chunk.mean()), seed_difference(a, b, "accuracy")[1], _bootstrap_interval(per_chunk))


def seed_difference(
    a: Sequence[ArmRow], b: Sequence[ArmRow], figure: str
) -> tuple[float | None, tuple[float, float] | None]:
    """The mean per-seed difference a − b of a stored figure (macro F1, ECE, ...) and its t
    interval over seeds (module docstring: what it covers)."""
    seeds = sorted({r.seed for r in a} & {r.seed for r in b})
    by_seed = [
        (next(r for r in a if r.seed == s).metrics.get(figure), next(r for r in b if r.seed == s).metrics.get(figure))
        for s in seeds
    ]
    values = np.asarray([x - y for x, y in by_seed if x is not None and y is not None])
    return (float(values.mean()) if len(values) else None), _t_interval(values)


def verdict(diff: Difference, expect: str, margin: float) -> str:
    """reproduced | contradicted | not resolved, for a claim `expect`ed of acc(arm) − acc(against)."""
    intervals = [i for i in (diff.over_seeds, diff.over_chunks) if i is not None]
    if not intervals:
        return "not resolved"
    holds = {
        "better": lambda lo, hi: lo > margin,
        "worse": lambda lo, hi: hi < -margin,
        "not_worse": lambda lo, hi: lo > -margin,
    }[expect]
    fails = {
        "better": lambda lo, hi: hi < margin,
        "worse": lambda lo, hi: lo > -margin,
        "not_worse": lambda lo, hi: hi < -margin,
    }[expect]
    if all(holds(*i) for i in intervals):
        return "reproduced"
    if all(fails(*i) for i in intervals):
        return "contradicted"
    return "not resolved"


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """The arms no other arm beats on both accuracy (higher) and latency (lower), fastest first;
    `points`: arm → (latency, accuracy)."""
    front = [
        name
        for name, (lat, acc) in points.items()
        if not any(
            l2 <= lat and a2 >= acc and (l2, a2) != (lat, acc) for other, (l2, a2) in points.items() if other != name
        )
    ]
    return sorted(front, key=lambda name: points[name][0])
