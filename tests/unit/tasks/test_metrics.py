import pytest

from upscway.tasks.metrics import agreement, bootstrap_ci, calibration, confusion, gs_accuracy, mcnemar, relevance


def test_relevance_by_hand():
    gold = [0, 0, 1, 2, 3, 4, 2, 0]
    pred = [0, 3, 1, 0, 3, 4, 2, 0]
    # relevant: gold T T T T T at 2..6; predicted relevant at 1,2,4,5,6 -> tp=4 (2,4,5,6), fp=1 (1), fn=1 (3)
    r = relevance(pred, gold, 0)
    assert r["accuracy"] == pytest.approx(6 / 8)
    assert (
        r["precision"] == pytest.approx(4 / 5) and r["recall"] == pytest.approx(4 / 5) and r["f1"] == pytest.approx(0.8)
    )


def test_all_one_class_and_empty_do_not_divide_by_zero():
    assert relevance([0, 0, 0], [0, 0, 0], 0) == {"accuracy": 1.0, "precision": None, "recall": None, "f1": None}
    assert relevance([1, 2], [0, 0], 0)["recall"] is None and relevance([1, 2], [0, 0], 0)["precision"] == 0.0
    assert relevance([], [], 0)["accuracy"] is None
    gs = gs_accuracy([0, 0], [0, 0], 5, 0)
    assert gs["overall"] is None and all(gs[str(k)] is None for k in range(1, 5))
    assert calibration([], [])["ece"] is None
    assert agreement([], []) is None


def test_gs_accuracy_overall_and_per_paper():
    gold = [1, 1, 2, 3, 3, 0]
    pred = [1, 2, 2, 3, 0, 1]
    gs = gs_accuracy(pred, gold, 5, 0)
    assert gs["overall"] == pytest.approx(3 / 5)
    assert gs["1"] == 0.5 and gs["2"] == 1.0 and gs["3"] == 0.5 and gs["4"] is None


def test_the_not_relevant_label_is_the_tasks_not_index_0():
    gold, pred = [4, 4, 0, 1, 2], [4, 0, 0, 1, 4]  # label 4 means "serves none" here
    # relevant by gold: 0, 1, 2 (indices 2-4); said relevant: 0, 0, 1 (indices 1-3): tp 2, fp 1, fn 1
    assert relevance(pred, gold, 4) == {
        "accuracy": pytest.approx(3 / 5),
        "precision": pytest.approx(2 / 3),
        "recall": pytest.approx(2 / 3),
        "f1": pytest.approx(2 / 3),
    }
    gs = gs_accuracy(pred, gold, 5, 4)
    assert gs["overall"] == pytest.approx(2 / 3) and set(gs) == {"overall", "0", "1", "2", "3"}


def test_confusion_rows_are_gold():
    m = confusion([1, 2, 2], [1, 1, 2], 3)
    assert m == [[0, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_calibration_by_hand():
    probs = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]]
    gold = [0, 1, 0, 0]
    # bins: 0.9 (2 items, acc 0.5) -> |0.5-0.9| * 0.5 = 0.2; 0.6 (2 items: right, wrong, acc 0.5) -> |0.5-0.6| * 0.5 = 0.05
    c = calibration(probs, gold, bins=10)
    assert c["ece"] == pytest.approx(0.25)
    assert c["mean_confidence"] == pytest.approx(0.75) and c["mean_confidence_wrong"] == pytest.approx(0.75)


def test_mcnemar_exact():
    teacher = [True] * 10 + [False] * 2 + [True] * 5
    student = [False] * 10 + [True] * 2 + [True] * 5
    r = mcnemar(teacher, student)
    # b=10, c=2, n=12: p = 2 * sum_{k<=2} C(12,k) / 2^12 = 2 * 79 / 4096
    assert (r["b"], r["c"]) == (10, 2) and r["p_value"] == pytest.approx(2 * 79 / 4096)
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0


def test_bootstrap_interval_contains_the_estimate():
    import numpy as np

    correct = np.array([1] * 70 + [0] * 30)
    low, high = bootstrap_ci(lambda idx: float(correct[idx].mean()), len(correct), resamples=500)
    assert low < 0.7 < high and 0.5 < low and high < 0.9
    assert bootstrap_ci(lambda idx: None, 10) is None and bootstrap_ci(lambda idx: 1.0, 0) is None
