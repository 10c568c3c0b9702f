import pytest

from upscway.tasks.evaluate.paired import evaluate_pair


def onehot(i, n=5, p=0.8):
    row = [(1 - p) / (n - 1)] * n
    row[i] = p
    return row


def test_paired_evaluation_on_the_same_chunks():
    gold = [0, 1, 2, 3, 4, 2, 3, 0]
    teacher = [onehot(x) for x in gold]  # always right
    student = [onehot(x) for x in [0, 1, 2, 3, 4, 2, 1, 2]]  # wrong on the last two
    result = evaluate_pair(student, teacher, gold, 5, 0, resamples=200)

    assert result.teacher.accuracy == 1.0 and result.student.accuracy == pytest.approx(6 / 8)
    assert result.paired.accuracy_gap == pytest.approx(2 / 8)
    assert result.paired.agreement_top1 == pytest.approx(6 / 8)
    assert (result.paired.mcnemar.b, result.paired.mcnemar.c) == (2, 0)
    low, high = result.paired.ci95["accuracy_gap"]
    assert 0.0 <= low <= 0.25 <= high
    assert result.student.confusion[3][1] == 1 and result.student.confusion[0][2] == 1


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        evaluate_pair([onehot(0)], [onehot(0), onehot(1)], [0], 5, 0)


def test_the_noninferiority_bound_is_the_one_sided_lower_bound_of_student_minus_teacher():
    gold = [i % 5 for i in range(200)]
    right = [[1.0 if j == g else 0.0 for j in range(5)] for g in gold]
    same = evaluate_pair(right, right, gold, 5, 0).paired.noninferiority
    assert (same.confidence, same.lower_bound) == (0.95, 0.0)
    worse = [
        [1.0 if j == (g + 1) % 5 else 0.0 for j in range(5)] if i % 10 == 0 else p
        for i, (g, p) in enumerate(zip(gold, right))
    ]
    strict = evaluate_pair(worse, right, gold, 5, 0, confidence=0.99).paired.noninferiority
    loose = evaluate_pair(worse, right, gold, 5, 0, confidence=0.8).paired.noninferiority
    assert strict.lower_bound < loose.lower_bound < -0.1 + 0.05  # the point gap is -0.10; more confidence, lower bound
