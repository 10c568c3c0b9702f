"""From a model's first-token log-probabilities to a distribution over the task's labels.

Tokens that are a verbalizer once stripped of whitespace count for that label ("A" and " A"
add up). An API returns only the top-k tokens, so a label can be missing: a missing label gets
an equal share of the probability mass the list does not cover, capped at the smallest
probability listed (it was not in the top k, so it cannot be likelier than what was), and the
result is renormalised over the labels. The mass the model put outside the letters is
returned as a quality signal. A log-probability that is not a finite number at most 0 (give or
take rounding) is refused: it would turn every probability into NaN or overflow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

LOGPROB_SLACK = 1e-4  # a server's rounding may put log(1) a little above 0; more is not a log-probability


def checked_logprob(token: str, logprob: float) -> float:
    """`logprob`, at most 0; ValueError naming the token when it is not a log-probability."""
    if not isinstance(logprob, (int, float)) or not math.isfinite(logprob) or logprob > LOGPROB_SLACK:
        raise ValueError(f"log-probability {logprob!r} of token {token!r} is not a finite number at most 0")
    return min(float(logprob), 0.0)


def label_distribution(
    top_logprobs: Iterable[tuple[str, float]], verbalizers: Sequence[str]
) -> tuple[list[float], float] | None:
    """(probabilities over labels, off-label mass), or None when no label is in the list;
    ValueError for a log-probability that is not one."""
    index = {v: i for i, v in enumerate(verbalizers)}
    mass = [0.0] * len(verbalizers)
    seen = [False] * len(verbalizers)
    listed_total, smallest = 0.0, 1.0
    for token, logprob in top_logprobs:
        p = math.exp(checked_logprob(token, logprob))
        listed_total += p
        smallest = min(smallest, p)
        i = index.get(token.strip())
        if i is not None:
            mass[i] += p
            seen[i] = True
    label_mass = sum(mass)
    if label_mass <= 0:
        return None
    missing = [i for i, s in enumerate(seen) if not s]
    if missing:
        share = min(max(0.0, 1.0 - listed_total) / len(missing), smallest)
        for i in missing:
            mass[i] = share
    total = sum(mass)
    return [m / total for m in mass], min(1.0, max(0.0, 1.0 - label_mass))


def softmax(scores: Sequence[float], temperature: float = 1.0) -> list[float]:
    top = max(scores)
    exps = [math.exp((s - top) / temperature) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]
