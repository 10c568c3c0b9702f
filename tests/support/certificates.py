"""Certificates computed by the real `certify` on made-up scores, for tests of what reads them."""

import numpy as np

from upscway.tasks.cascade.certificate import Sample, certify


def certificate(n=2000, offload=0.6, loss_rate=0.002, paper_losses=0, epsilon=0.02, delta=0.05, loss="consistency"):
    """A certificate computed by `certify` on made-up scores: the student is sure (0.95) of
    `offload` of the `n` chunks, on the papers in turn, and disagrees with the reference on
    `loss_rate` of all chunks among those (plus `paper_losses` more on paper 3); unsure (0.3)
    and wrong on the rest."""
    sure = int(offload * n)
    reference = 1 + np.arange(n) % 4
    predicted = reference.copy()
    predicted[sure:] = reference[sure:] % 4 + 1  # wrong where unsure
    predicted[np.arange(int(loss_rate * n)) * 4 + 1] = 1  # paper-2 chunks, spread over the sure ones
    predicted[np.flatnonzero((reference == 3) & (np.arange(n) < sure))[:paper_losses]] = 4
    confidence = np.where(np.arange(n) < sure, 0.95, 0.3)
    probs = np.repeat(((1 - confidence) / 4)[:, None], 5, axis=1)
    probs[np.arange(n), predicted] = confidence
    return certify(Sample(probs, reference), 0, (0.35, 0.65), epsilon, delta, loss=loss).model_dump(mode="json")
