"""The last line of defence: an answer or a stored row made of numbers that are not finite (or not
a distribution) is refused when it is made, naming the field; a teacher turns that into the
chunk's failure, and a caller that needs every chunk's probabilities stops with the reason."""

import math

import pytest

from upscway.storage.annotations import AnswerRow
from upscway.tasks.annotate.teacher import TeacherFailure, answer_or_failure
from upscway.taxonomy import SoftLabel

GOOD = [0.1, 0.2, 0.3, 0.2, 0.2]


@pytest.mark.parametrize(
    "probs",
    [[math.nan] * 5, [0.0, math.nan, 0.0, 0.0, 0.0], [0.0, math.inf, 0.0, 0.0, 0.0], [1.5, -0.5, 0.0, 0.0, 0.0], []],
)
def test_a_soft_label_of_probabilities_that_are_not_finite_or_in_0_1_is_refused(probs):
    with pytest.raises(ValueError, match=r"probabilities must be finite numbers in \[0, 1\]"):
        SoftLabel(probs=probs)


def test_a_soft_label_must_sum_to_1_and_carry_finite_accounting():
    with pytest.raises(ValueError, match="must sum to 1"):
        SoftLabel(probs=[0.5, 0.1, 0.1, 0.1, 0.1])
    for name, value in [("cost", math.nan), ("latency_s", math.inf), ("off_label_mass", math.nan), ("tokens_in", -1)]:
        with pytest.raises(ValueError, match=f"{name} must be a finite number at least 0"):
            SoftLabel(probs=GOOD, **{name: value})
    assert SoftLabel(probs=GOOD).label == 2


def test_a_teachers_nan_becomes_that_chunks_failure_and_its_probs_are_refused():
    answer = answer_or_failure([math.nan] * 5, latency_s=0.01)
    assert isinstance(answer, TeacherFailure) and "finite numbers" in answer.reason
    with pytest.raises(ValueError, match="the teacher gave no answer for a chunk: answer refused: probabilities"):
        _ = answer.probs
    assert answer_or_failure(GOOD).probs == GOOD


@pytest.mark.parametrize(
    "field, value, wrong",
    [
        ("probs", [0.2, math.nan, 0.2, 0.2, 0.4], r"probs\[1\]"),
        ("confidence", math.inf, "confidence"),
        ("cost", math.nan, "cost"),
        ("tokens_in", 2**40, "token counts"),
        ("label_index", 5, "label_index 5"),
    ],
)
def test_a_stored_row_of_numbers_that_are_not_finite_is_refused_before_any_insert(field, value, wrong):
    row = dict(
        text_hash="h1",
        label="GS2",
        label_index=2,
        probs=GOOD,
        confidence=0.3,
        off_label_mass=0.0,
        rationale=None,
        tokens_in=1,
        tokens_out=1,
        cost=0.0,
        latency_ms=1.0,
    )
    AnswerRow(**row)
    with pytest.raises(ValueError, match=rf"answer for h1 refused: .*{wrong}"):
        AnswerRow(**{**row, field: value})
