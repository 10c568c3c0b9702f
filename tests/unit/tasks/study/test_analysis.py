"""A study's verdicts on the reference reports' claims: exact on hand-made rows, and by
simulation a claim of no real effect is seldom called reproduced, a real one usually is."""

import numpy as np
import pytest

from upscway.storage.studies import ArmRow
from upscway.tasks.study.analysis import Difference, by_arm, difference, mean_sd, pareto_front, seed_difference, verdict


def _rows(arm, correct_by_seed, gold):
    return [
        ArmRow(
            arm,
            seed,
            f"{arm}-{seed}",
            {},
            True,
            {"accuracy": float(np.mean(c)), "chunks_per_s": 10.0 + seed},
            [g if ok else (g + 1) % 5 for ok, g in zip(c, gold)],
            "",
        )
        for seed, c in enumerate(correct_by_seed)
    ]


def test_the_difference_pairs_seeds_and_chunks():
    gold = [0, 1, 2, 3]
    a = _rows("a", [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], gold)
    b = _rows("b", [[1, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0]], gold)
    diff = difference(a, b, gold)
    # Per seed: 0.75-0.25, 0.5-0.25, 1-0.5; per chunk (shares of seeds right): 0, 2/3, 2/3, 1/3.
    assert diff.estimate == pytest.approx(5 / 12)
    per_seed = np.array([0.5, 0.25, 0.5])
    half = 4.302653 * per_seed.std(ddof=1) / np.sqrt(3)  # t(0.975, df=2)
    assert diff.over_seeds == pytest.approx((per_seed.mean() - half, per_seed.mean() + half), rel=1e-5)
    assert diff.over_chunks[0] <= diff.estimate <= diff.over_chunks[1]
    assert mean_sd(a)["accuracy"] == pytest.approx((0.75, 0.25)) and by_arm(b + a)["a"] == a
    # Any stored figure pairs by seed the same way (the report's macro F1 column).
    assert seed_difference(a, b, "accuracy")[0] == pytest.approx(per_seed.mean())
    assert seed_difference(a, b, "accuracy")[1] == pytest.approx(diff.over_seeds)


@pytest.mark.parametrize(
    "expect, margin, over_seeds, over_chunks, outcome",
    [
        ("better", 0.0, (0.01, 0.2), (0.02, 0.1), "reproduced"),
        ("better", 0.0, (-0.01, 0.2), (0.02, 0.1), "not resolved"),
        ("better", 0.0, (-0.2, -0.01), (-0.1, -0.02), "contradicted"),
        ("worse", 0.05, (-0.3, -0.06), (-0.2, -0.07), "reproduced"),
        ("worse", 0.05, (-0.3, -0.04), (-0.2, -0.07), "not resolved"),
        ("not_worse", 0.05, (-0.04, 0.02), (-0.03, 0.01), "reproduced"),
        ("not_worse", 0.05, (-0.2, -0.06), (-0.3, -0.1), "contradicted"),
    ],
)
def test_a_claim_holds_only_where_both_intervals_say_so(expect, margin, over_seeds, over_chunks, outcome):
    assert verdict(Difference(0.0, over_seeds, over_chunks), expect, margin) == outcome


def _simulated(effect, rng, chunks=125, seeds=3, seed_sd=0.04):
    """Two arms on the same chunks: each chunk has its own difficulty, each training seed a
    shift of its own (a bad seed is bad on many chunks); arm a is `effect` more accurate."""
    gold = [0] * chunks
    difficulty = rng.beta(3, 2, size=chunks)
    arms = []
    for name, shift in (("a", effect), ("b", 0.0)):
        correct = [
            rng.random(chunks) < np.clip(difficulty + shift + rng.normal(0, seed_sd), 0, 1) for _ in range(seeds)
        ]
        arms.append(_rows(name, correct, gold))
    return difference(*arms, gold)


def test_simulated_studies_seldom_reproduce_an_effect_that_is_not_there_and_usually_one_that_is():
    rng = np.random.default_rng(0)
    null = [verdict(_simulated(0.0, rng), "better", 0.0) for _ in range(200)]
    real = [verdict(_simulated(0.2, rng), "better", 0.0) for _ in range(200)]
    false_rate, power = null.count("reproduced") / len(null), real.count("reproduced") / len(real)
    print(
        f"'better' called reproduced: {false_rate:.3f} with no effect, {power:.3f} with +0.2 accuracy (3 seeds, 125 chunks)"
    )
    assert false_rate <= 0.05
    assert power >= 0.5


def test_the_pareto_front_keeps_only_arms_nothing_beats_on_both():
    points = {"slow-good": (10.0, 0.9), "fast-ok": (1.0, 0.7), "slow-bad": (12.0, 0.6), "mid": (5.0, 0.7)}
    assert pareto_front(points) == ["fast-ok", "slow-good"]
