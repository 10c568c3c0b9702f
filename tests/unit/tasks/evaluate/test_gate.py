import pytest

from upscway.settings import GateSettings
from upscway.tasks.evaluate.gate import decide

GOOD = {"relevance_accuracy": 0.9, "precision": 0.8, "recall": 0.9, "gs_accuracy": 0.8, "accuracy": 0.8}
SUPPORT = {"total": 200, "1": 40, "2": 40, "3": 40, "4": 40}


def test_all_criteria_pass_promotes_and_records_each_criterion():
    d = decide(GOOD, teacher_accuracy=0.85, support=SUPPORT, gate=GateSettings())
    assert d.verdict == "promote" and d.reasons == ()
    assert [(c.name, c.threshold, c.passed) for c in d.criteria] == [
        ("relevance_accuracy", 0.75, True), ("precision", 0.45, True), ("recall", 0.75, True),
        ("gs_accuracy", 0.70, True), ("gap_to_teacher", 0.10, True),
    ]


@pytest.mark.parametrize(
    "change, failing",
    [
        ({"relevance_accuracy": 0.74}, "relevance_accuracy"),
        ({"precision": 0.44}, "precision"),
        ({"recall": 0.7}, "recall"),
        ({"gs_accuracy": 0.69}, "gs_accuracy"),
        ({"accuracy": 0.70}, "gap_to_teacher"),   # teacher 0.85 - 0.70 = 0.15 > 0.10
        ({"precision": None}, "precision"),       # undefined never passes
    ],
)
def test_each_criterion_alone_rejects(change, failing):
    d = decide({**GOOD, **change}, teacher_accuracy=0.85, support=SUPPORT, gate=GateSettings())
    assert d.verdict == "reject"
    assert [c.name for c in d.criteria if not c.passed] == [failing]


def test_too_little_gold_is_insufficient_data_even_when_metrics_pass():
    assert decide(GOOD, 0.85, {**SUPPORT, "total": 99}, GateSettings()).verdict == "insufficient-data"
    d = decide(GOOD, 0.85, {**SUPPORT, "4": 5}, GateSettings())
    assert d.verdict == "insufficient-data" and "GS4" in d.reasons[0]
    assert decide(GOOD, 0.85, {**SUPPORT, "4": 0}, GateSettings()).verdict == "promote"  # a paper with no gold is not judged
