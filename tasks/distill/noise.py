"""A noisy teacher, made on purpose: Gaussian noise of standard deviation σ added to the
teacher's label logits before distillation (the noisy-teacher study).

The stored log-probabilities are the teacher's logits up to a per-chunk constant, and both
terms of the KD loss are invariant to that constant, so the noise is added to them as they
are and nothing is renormalised: each logit moves by exactly its draw, N(0, σ²). The draws
come from one seeded generator in the examples' order, so an arm's noisy data are the same on
every run and every machine.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from upscway.tasks.distill.dataset import Example


def noisy_examples(examples: list[Example], sigma: float, seed: int) -> list[Example]:
    """`examples` with N(0, σ²) added to each teacher logit (σ = 0: the examples themselves)."""
    if sigma < 0:
        raise ValueError(f"noise sigma must be at least 0, got {sigma}")
    if sigma == 0 or not examples:
        return list(examples)
    rng = np.random.default_rng(seed)
    draws = rng.normal(0.0, sigma, size=(len(examples), len(examples[0].teacher_logprobs)))
    return [
        replace(e, teacher_logprobs=tuple(float(v) for v in np.asarray(e.teacher_logprobs) + d))
        for e, d in zip(examples, draws)
    ]
