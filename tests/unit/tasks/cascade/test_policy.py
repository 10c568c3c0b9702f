"""One routing rule: the chunks `tag` lets the student decide are the chunks the certificate
counts as decided and the operating curve offloads, on random score vectors drawn to hit what
a rule written twice gets wrong: ties, NaN and infinities, an empty or refused vector, top
probabilities exactly at the threshold, and relevances exactly at the band's edges.
(hypothesis is not installed: numpy draws with a fixed seed.)"""

import numpy as np

from upscway.records import ChunkRef
from upscway.tasks.cascade.certificate import THRESHOLDS, Sample, risk_curve
from upscway.tasks.cascade.evaluation import operating_curve
from upscway.tasks.cascade.policy import CascadePolicy
from upscway.tasks.cascade.routing import for_teacher, scored_chunks

LABELS, DRAWS = 5, 4000
WRONG = LABELS + 1  # a reference label no score vector's argmax can be: every decided chunk is a loss
BANDS = ((0.35, 0.65), (2.0, 3.0), (0.0, 1.0), (0.2, 0.2), (0.5, 0.45))


def _vector(
    rng: np.random.Generator, threshold: float, band: tuple[float, float], not_relevant: int
) -> list[float] | None:
    """A score vector: a random distribution, then (each with some chance) quantized to the
    threshold grid, given a tie at the top, its top set to `threshold`, its relevance set to a
    band edge, a NaN or infinity written in; or nothing (refused)."""
    if rng.uniform() < 0.02:
        return None
    probs = rng.dirichlet(np.full(LABELS, rng.choice([0.2, 1.0, 5.0])))
    if rng.uniform() < 0.3:
        probs = np.round(probs * 20) / 20  # on the grid: ties with thresholds and with each other
    if rng.uniform() < 0.2:
        order = np.argsort(probs)
        probs[order[-2]] = probs[order[-1]]  # a tie at the top
    if rng.uniform() < 0.2:
        probs[rng.integers(LABELS)] = threshold  # a top probability exactly at the threshold (or not the top)
    if rng.uniform() < 0.25:
        probs[not_relevant] = 1.0 - band[rng.integers(2)]  # relevance at a band edge
    if rng.uniform() < 0.1:
        probs[rng.integers(LABELS)] = rng.choice([np.nan, np.inf, -np.inf])
    return probs.tolist()


def _policy(rng: np.random.Generator) -> CascadePolicy:
    threshold = float(rng.choice(THRESHOLDS)) if rng.uniform() < 0.7 else float(rng.uniform(-0.1, 1.1))
    return CascadePolicy(threshold, BANDS[rng.integers(len(BANDS))], int(rng.choice([0, LABELS - 1])))


def _routed_by_tag(probs: list[list[float] | None], policy: CascadePolicy) -> list[bool]:
    """Per chunk, whether `tag` lets the student decide it (its text is not sent to the teacher)."""
    chunks = [ChunkRef(f"c{i}", f"h{i}") for i in range(len(probs))]
    unsure = for_teacher(scored_chunks(chunks, {f"h{i}": p for i, p in enumerate(probs)}), policy)
    return [f"h{i}" not in unsure for i in range(len(probs))]


def test_tag_routes_exactly_the_chunks_the_certificate_and_the_operating_curve_count_as_decided():
    rng = np.random.default_rng(20261201)
    for _ in range(DRAWS):
        policy = _policy(rng)
        probs = _vector(rng, policy.threshold, policy.band, policy.not_relevant)
        (by_tag,) = _routed_by_tag([probs], policy)
        assert policy.decides(probs) == by_tag, (probs, policy)
        if probs is None or not probs:
            continue  # the certificate's and the curve's samples hold scores, not refusals
        (tested,) = risk_curve(Sample([probs], [WRONG]), policy, 0.02, 0.05, thresholds=(policy.threshold,))
        assert tested.decided == tested.losses == int(by_tag), (probs, policy)
        gold = (int(np.argmax(np.nan_to_num(probs))) + 1) % LABELS  # the student is wrong, the teacher right
        teacher = [1.0 if i == gold else 0.0 for i in range(LABELS)]
        (point,) = operating_curve(
            [probs], [teacher], [gold], policy.band, policy.not_relevant, thresholds=(policy.threshold,)
        )
        assert point.offload == float(by_tag) and point.accuracy == (0.0 if by_tag else 1.0), (probs, policy)


def test_over_a_whole_sample_the_certificate_decides_the_set_tag_routes_at_every_threshold():
    rng = np.random.default_rng(7)
    for band, not_relevant in ((0.35, 0.65), 0), ((0.35, 0.65), LABELS - 1), ((0.0, 1.0), 0):
        sample = [_vector(rng, float(rng.choice(THRESHOLDS)), band, not_relevant) for _ in range(DRAWS)]
        sample = [p for p in sample if p is not None]
        counts = rng.uniform(size=len(sample)) < 0.5  # which chunks can be losses: a random half
        policy = CascadePolicy(1.01, band, not_relevant)
        curve = risk_curve(Sample(sample, [WRONG] * len(sample), counts), policy, 0.02, 0.05, thresholds=THRESHOLDS)
        for tested in curve:
            policy = CascadePolicy(tested.threshold, band, not_relevant)
            by_tag = np.array(_routed_by_tag(sample, policy))
            assert np.array_equal(policy.decided(sample), by_tag)
            assert (tested.decided, tested.losses) == (int(by_tag.sum()), int((by_tag & counts).sum())), tested
