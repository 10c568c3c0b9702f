import numpy as np

from upscway.tasks.distill.calibration import fit_temperature, uncalibrated


def test_an_overconfident_model_gets_a_temperature_above_one_and_scaling_is_reversible():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    logits = rng.normal(0, 1, (400, 5))
    right = rng.random(400) < 0.6  # right 60% of the time, but with logits that claim near certainty
    predicted = np.where(right, labels, (labels + 1) % 5)
    logits[np.arange(400), predicted] += 8.0
    fitted = fit_temperature(logits, labels)
    assert fitted["temperature"] > 2 and fitted["validation_nll_after"] < fitted["validation_nll_before"]
    scaled = np.exp(logits / fitted["temperature"])
    scaled /= scaled.sum(axis=1, keepdims=True)
    raw = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(uncalibrated(scaled, fitted["temperature"]), raw, atol=1e-6)
    assert fit_temperature([], []) == {"temperature": 1.0}
