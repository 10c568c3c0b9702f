"""The cascade's routing rule: which chunks the student decides and which go to the teacher."""

from __future__ import annotations

from collections.abc import Sequence


def is_uncertain(probs: Sequence[float], confidence_threshold: float, relevance_band: tuple[float, float]) -> bool:
    """True when the student's top probability is below the threshold, or when its relevance
    (1 - p(NOT_RELEVANT), label 0) falls inside the uncertainty band."""
    relevance = 1.0 - probs[0]
    low, high = relevance_band
    return max(probs) < confidence_threshold or low <= relevance <= high
