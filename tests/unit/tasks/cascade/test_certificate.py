"""The certificate's statistics: exact binomial p-values and Clopper–Pearson bounds against
values computed by hand, and a simulation with a known true risk curve in which the certified
threshold's true risk exceeds ε in at most δ of the draws, while choosing the threshold on the
same sample (the plug-in method the gate used before) exceeds it far more often."""

import math

import numpy as np
import pytest

from upscway.tasks.cascade.certificate import (
    SAFEST_FIRST,
    Sample,
    certify,
    certify_cascade,
    interval,
    p_value,
    risk_curve,
    samples_needed,
    upper_bound,
)
from upscway.tasks.cascade.policy import CascadePolicy


def test_p_values_are_the_binomial_tail_at_epsilon():
    assert p_value(0, 149, 0.02) == pytest.approx(0.98**149)  # 0.0493: 149 clean chunks certify 0.02 at 5%
    assert p_value(0, 148, 0.02) == pytest.approx(0.98**148) and p_value(0, 148, 0.02) > 0.05
    assert p_value(1, 10, 0.1) == pytest.approx(0.9**10 + 10 * 0.1 * 0.9**9)
    assert p_value(3, 20, 0.25) == pytest.approx(sum(math.comb(20, k) * 0.25**k * 0.75 ** (20 - k) for k in range(4)))
    assert p_value(0, 0, 0.02) == 1.0


def test_clopper_pearson_bounds_and_the_sample_an_epsilon_needs():
    assert upper_bound(0, 100, 0.05) == pytest.approx(1 - 0.05 ** (1 / 100))  # the rule of three's exact form
    assert upper_bound(5, 5, 0.05) == 1.0
    low, high = interval(0, 10, 0.05)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 10))
    assert samples_needed(0.0, 0.02, 0.05) == 149
    n = samples_needed(0.01, 0.02, 0.05)
    assert p_value(int(0.01 * n), n, 0.02) <= 0.05 and all(p_value(int(0.01 * m), m, 0.02) > 0.05 for m in range(1, n))
    assert samples_needed(0.02, 0.02, 0.05) is None and samples_needed(0.03, 0.02, 0.05) is None


def _scores(confidence: np.ndarray) -> np.ndarray:
    """Two-label probabilities with `confidence` on label 1 (label 0 is "not relevant": low)."""
    return np.stack([1 - confidence, confidence], axis=1)


def test_fixed_sequence_stops_at_the_first_threshold_it_cannot_reject():
    confidence = np.linspace(0.5, 1.0, 400)
    reference = np.ones(400, dtype=int)
    reference[confidence < 0.7] = 0  # the student is wrong exactly below 0.7
    cert = certify(Sample(_scores(confidence), reference), 0, (2.0, 3.0), epsilon=0.02, delta=0.05)
    assert 0.7 <= cert.threshold <= 0.75 and cert.upper_bound <= 0.02 + 0.02
    after = next(t for t in cert.curve if t.threshold < cert.threshold)  # the first failure ends the sequence
    assert after.p_value > 0.05 and len(cert.curve) == len(SAFEST_FIRST)  # the whole curve is kept, for the shortfall
    assert cert.sentence() == (
        f"Certified: with 95% confidence the cascade at threshold {cert.threshold:g} loses at most 0.02 accuracy "
        f"against the teacher; the student decides {cert.offload:.0%} of chunks ({cert.offload_interval[0]:.0%}–"
        f"{cert.offload_interval[1]:.0%}) (risk upper bound {cert.upper_bound:.3f}, on 400 held-out teacher answers)."
    )
    nothing = certify(
        Sample(_scores(confidence[:100]), np.zeros(100, dtype=int)), 0, (2.0, 3.0), epsilon=0.02, delta=0.05
    )
    assert nothing.threshold is None and nothing.offload == 0.0 and nothing.sentence().startswith("Not certified")


def test_a_threshold_at_which_the_student_decides_nothing_certifies_nothing():
    """1.01 and 1.0 are always rejected on a clean enough sample (no chunk decided, no loss):
    that is no certificate, since the teacher still decides everything."""
    cert = certify(
        Sample(_scores(np.full(200, 0.9)), np.zeros(200, dtype=int)), 0, (2.0, 3.0), epsilon=0.02, delta=0.05
    )
    assert cert.curve[0].p_value < 0.05 and cert.threshold is None


def test_with_random_gold_both_losses_are_certified_at_half_delta_and_the_bolder_is_used():
    """Consistency (the teacher's label as reference) and accuracy loss (gold, counting only
    chunks the teacher gets right) are tested at δ/2 each; the certificate used is the one
    that lets the student decide more."""
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.5, 1.0, 3000)
    reference = np.where(rng.uniform(size=3000) < confidence, 1, 0)
    consistency = Sample(_scores(confidence), reference)
    teacher_right = rng.uniform(size=3000) < 0.3  # a weak teacher: accuracy loss counts few chunks
    accuracy = Sample(_scores(confidence), reference, teacher_right)
    used, both = certify_cascade(consistency, accuracy, 0, (2.0, 3.0), epsilon=0.02, delta=0.05)
    assert [c.loss for c in both] == ["consistency", "accuracy"] and all(c.delta == 0.025 for c in both)
    assert used is both[1] and both[1].offload > both[0].offload
    alone, (only,) = certify_cascade(consistency, None, 0, (2.0, 3.0), epsilon=0.02, delta=0.05)
    assert only.delta == 0.05 and alone is only
    assert certify_cascade(Sample([], []), None, 0, (2.0, 3.0), 0.02, 0.05) == (None, ())


def test_the_certified_thresholds_true_risk_exceeds_epsilon_in_at_most_delta_of_the_draws():
    """Confidence c ~ U(0.5, 1) and the student agrees with the reference with probability c
    (calibrated), so the true risk of threshold λ is ∫_λ^1 (1 − c) 2 dc = (1 − λ)²; ε = 0.02 is
    met for λ ≥ 0.859. 1,000 draws of 300 chunks each."""
    rng, epsilon, delta, draws, n = np.random.default_rng(0), 0.02, 0.05, 1000, 300

    def true_risk(threshold: float) -> float:
        return (1 - max(threshold, 0.5)) ** 2

    certified, plug_in = 0, 0
    for _ in range(draws):
        confidence = rng.uniform(0.5, 1.0, n)
        agrees = rng.uniform(size=n) < confidence
        reference = np.where(agrees, 1, 0)
        cert = certify(Sample(_scores(confidence), reference), 0, (2.0, 3.0), epsilon, delta)
        if cert.threshold is not None and true_risk(cert.threshold) > epsilon:
            certified += 1
        # The plug-in method: the most aggressive threshold whose loss rate on this same sample is
        # within ε (what choosing on the evaluation gold and judging on it amounts to).
        fine = [
            t.threshold
            for t in risk_curve(_scores(confidence), reference, 0, (2.0, 3.0), epsilon, delta)
            if t.losses / n <= epsilon
        ]
        if fine and true_risk(min(fine)) > epsilon:
            plug_in += 1
    print(f"violation rate: certificate {certified / draws:.3f} (δ = {delta}), plug-in choice {plug_in / draws:.3f}")
    assert certified / draws <= delta
    assert plug_in / draws > 2 * delta  # the flaw the certificate fixes, kept as a regression check


def test_scores_that_are_not_finite_are_never_decided():
    """Issue 30, row 8: an infinite score passed `confidence >= threshold`, and a row with one
    -inf beside finite scores looked sure; neither decides, so neither is a loss nor offload."""
    nan, inf = float("nan"), float("inf")
    student = [[nan] * 3, [0.1, inf, 0.0], [0.05, 0.9, -inf], [0.05, 0.9, 0.05]]
    (tested,) = risk_curve(student, [1, 2, 2, 1], 0, (2.0, 3.0), epsilon=0.5, delta=0.05, thresholds=(0.0,))
    assert (tested.decided, tested.losses) == (1, 0)
    # confidence NaN, infinite, 0.9 with relevance −∞ (p(not relevant) = ∞), and 0.9 with relevance 0.9
    rows = np.array([[0.5, nan], [0.1, inf], [inf, 0.9], [0.1, 0.9]])
    assert CascadePolicy(0.0, (2.0, 3.0), 0).decided(rows).tolist() == [False] * 3 + [True]
