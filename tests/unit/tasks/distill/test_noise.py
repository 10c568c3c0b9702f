"""The noisy teacher of the noisy-teacher study: N(0, σ²) on every logit, seeded."""

import numpy as np
import pytest

from upscway.tasks.distill.dataset import Example
from upscway.tasks.distill.noise import noisy_examples


def _examples(n=2000, labels=5):
    rng = np.random.default_rng(7)
    logits = np.log(rng.dirichlet(np.ones(labels), size=n))
    return [Example(f"c{i}", f"a{i}", "text", tuple(row), -1) for i, row in enumerate(logits)]


@pytest.mark.parametrize("sigma", [0.5, 2.0, 5.0])
def test_noise_moves_each_logit_by_a_draw_of_the_expected_spread(sigma):
    clean = _examples()
    noisy = noisy_examples(clean, sigma, seed=3)
    moves = np.asarray([n.teacher_logprobs for n in noisy]) - np.asarray([c.teacher_logprobs for c in clean])
    # 10,000 draws: the sample sd is within 3% of σ and the mean within 4 standard errors of 0.
    assert moves.std() == pytest.approx(sigma, rel=0.03)
    assert abs(moves.mean()) < 4 * sigma / np.sqrt(moves.size)
    # Independent across labels: no per-chunk shift (which the KD loss would not even see).
    assert abs(np.corrcoef(moves[:, 0], moves[:, 1])[0, 1]) < 0.05
    assert [n.chunk_id for n in noisy] == [c.chunk_id for c in clean] and noisy[0].text == clean[0].text


def test_noise_is_seeded_and_zero_noise_is_the_teacher_itself():
    clean = _examples(50)
    assert noisy_examples(clean, 2.0, seed=1) == noisy_examples(clean, 2.0, seed=1)
    assert noisy_examples(clean, 2.0, seed=1) != noisy_examples(clean, 2.0, seed=2)
    assert noisy_examples(clean, 0.0, seed=1) == clean
    with pytest.raises(ValueError, match="sigma"):
        noisy_examples(clean, -1.0, seed=1)
