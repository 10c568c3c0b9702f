import math

import pytest

from upscway.tasks.annotate.distribution import label_distribution, softmax

V = ["A", "B", "C", "D", "E"]


def lp(p):
    return math.log(p)


def test_all_labels_listed_renormalise_over_labels():
    probs, off = label_distribution(
        [("C", lp(0.6)), ("D", lp(0.2)), ("A", lp(0.1)), ("B", lp(0.05)), ("E", lp(0.04)), ("The", lp(0.01))], V
    )
    assert probs == pytest.approx([0.1 / 0.99, 0.05 / 0.99, 0.6 / 0.99, 0.2 / 0.99, 0.04 / 0.99])
    assert off == pytest.approx(0.01)


def test_space_variants_add_up():
    probs, _ = label_distribution([("C", lp(0.5)), (" C", lp(0.2)), ("B", lp(0.3))], V)
    assert probs[2] > probs[1] and probs[2] / probs[1] == pytest.approx(0.7 / 0.3)


def test_missing_labels_share_the_unlisted_mass_capped_by_the_smallest_listed():
    # Listed: C 0.7, B 0.2 (total 0.9); unlisted 0.1 shared by A, D, E -> 0.0333 each (< 0.2).
    probs, off = label_distribution([("C", lp(0.7)), ("B", lp(0.2))], V)
    share = 0.1 / 3
    total = 0.9 + 3 * share
    assert probs == pytest.approx([share / total, 0.2 / total, 0.7 / total, share / total, share / total])
    assert off == pytest.approx(0.1)
    # Cap: listed C 0.5, word 0.01 (total 0.51): unlisted 0.49 / 4 = 0.12 capped at 0.01.
    probs, _ = label_distribution([("C", lp(0.5)), ("the", lp(0.01))], V)
    assert probs[0] == pytest.approx(0.01 / 0.54)


def test_no_label_in_the_list_is_none():
    assert label_distribution([("The", lp(0.9)), ("a", lp(0.05))], V) is None


def test_lowercase_letter_is_not_a_label():
    probs, off = label_distribution([("a", lp(0.5)), ("B", lp(0.5))], V)
    assert probs[1] == max(probs) and off == pytest.approx(0.5)


def test_softmax_temperature():
    assert softmax([1.0, 1.0]) == pytest.approx([0.5, 0.5])
    assert softmax([2.0, 0.0], temperature=0.5)[0] > softmax([2.0, 0.0])[0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1000.0, 0.01])
def test_a_logprob_that_is_not_a_finite_log_probability_is_refused_naming_the_token(bad):
    with pytest.raises(ValueError, match=r"log-probability .* of token ' B' is not a finite number at most 0"):
        label_distribution([("A", lp(0.5)), (" B", bad)], V)


def test_rounding_just_above_log_1_is_read_as_log_1():
    probs, off = label_distribution([("A", 1e-7)], V)
    assert probs[0] == 1.0 and off == 0.0
