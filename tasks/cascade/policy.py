"""The cascade's routing rule, written once: which score vectors the student decides.

`tag` routes each night's chunks with it, the certificate counts what the student decides
and loses with it at every threshold of its grid, and the operating curve reports the cascade
on gold with it; so the threshold a certificate holds for is the one `tag` deploys, by
construction (tests/unit/tasks/cascade/test_policy.py checks that they are one function).

The rule: the student decides a chunk when its scores are a score vector at all (present, not
empty, every number finite), its top probability is at least the threshold, and the chunk's
relevance (1 − p(not relevant), the task's `not_relevant` label) lies outside the relevance
band (a band's edges are inside it). Anything else goes to the teacher. Scores that are not
finite decide nothing: NaN compares False with everything, so a NaN confidence would otherwise
pass every "below the threshold?" test, and its argmax would be label 0.

Plain code over numbers: no store, no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from upscway.settings import CascadeSettings

Probs = Sequence[float]


@dataclass(frozen=True)
class CascadePolicy:
    """Where the student decides: its top probability at least `threshold`, and relevance
    outside `band`, read off label `not_relevant`."""

    threshold: float
    band: tuple[float, float]
    not_relevant: int

    @classmethod
    def of(cls, cascade: CascadeSettings, threshold: float, not_relevant: int) -> CascadePolicy:
        """The policy `cascade` configures (its relevance band) at `threshold`."""
        return cls(threshold=threshold, band=tuple(cascade.relevance_band), not_relevant=not_relevant)

    def at(self, threshold: float) -> CascadePolicy:
        """The same policy at another threshold (the certificate's grid, the operating curve)."""
        return replace(self, threshold=threshold)

    def decided(self, probs: Sequence[Probs] | np.ndarray) -> np.ndarray:
        """The rule (see the module's docstring), per chunk: `probs` holds one score vector a
        row (chunks × labels); True where the student decides the chunk."""
        scores = np.asarray(probs, dtype=float)
        if scores.ndim != 2 or scores.shape[1] == 0:
            return np.zeros(len(scores), dtype=bool)
        whole = np.isfinite(scores).all(axis=1)
        finite = np.where(whole[:, None], scores, 0.0)  # no NaN reaches max or a comparison
        relevance = 1.0 - finite[:, self.not_relevant]
        low, high = self.band
        return whole & (finite.max(axis=1) >= self.threshold) & ~((relevance >= low) & (relevance <= high))

    def decides(self, probs: Probs | None) -> bool:
        """`decided` for one chunk's scores; None (the scorer refused them) decides nothing."""
        return probs is not None and bool(self.decided([probs])[0])


@dataclass(frozen=True)
class Guarantee:
    """What a certificate promises, ε and δ: with probability at least 1 − δ over its sample,
    the cascade loses at most ε accuracy against the teacher. The settings name them
    `cascade.max_loss` and `cascade.risk_level` (user configuration, kept)."""

    epsilon: float
    delta: float

    @classmethod
    def of(cls, cascade: CascadeSettings) -> Guarantee:
        return cls(epsilon=cascade.max_loss, delta=cascade.risk_level)
