"""The gate on a paired result: the seed report's criteria, non-inferiority on the bootstrap's
lower bound, the per-paper guard, and support shortfalls that say what to label next."""

import pytest

from upscway.results import PairedResult
from upscway.settings import GateSettings
from upscway.tasks.evaluate.gate import decide

GOOD = {"relevance_accuracy": 0.9, "precision": 0.8, "recall": 0.9, "gs_accuracy": 0.8, "accuracy": 0.8,
        "gs_accuracy_per_paper": {"1": 0.8, "2": 0.8, "3": 0.8, "4": 0.8}}
TEACHER = {"accuracy": 0.82, "gs_accuracy_per_paper": {"1": 0.85, "2": 0.8, "3": 0.8, "4": 0.75}}


def _result(student=None, teacher=None, lower_bound=-0.05, per_paper=40, n=200, offload=0.6, cascade_papers=None, chosen=True,
            empty_paper=None):
    confusion = [[40, 0, 0, 0, 0]] + [[0] * i + [per_paper] + [0] * (4 - i) for i in range(1, 5)]
    if empty_paper is not None:
        confusion[empty_paper] = [0, 0, 0, 0, 0]
    return PairedResult.model_validate({
        "student": {**GOOD, **(student or {}), "confusion": confusion},
        "teacher": {**TEACHER, **(teacher or {})},
        "paired": {"n": n, "noninferiority": {"confidence": 0.95, "lower_bound": lower_bound},
                   "ci95": {"accuracy_gap": [-0.03, 0.07], "recall": [0.85, 0.95]}},
        "cascade": {"chosen": {"threshold": 0.7, "offload": offload, "accuracy": 0.81, "lower_bound": lower_bound,
                               "gs_accuracy_per_paper": cascade_papers or {"1": 0.84, "2": 0.8, "3": 0.8, "4": 0.75}} if chosen else None},
    })


def test_all_criteria_pass_promotes_and_records_each_criterion_with_its_interval():
    d = decide(_result(), GateSettings())
    assert d.verdict == "promote" and d.reasons == ()
    assert [(c.name, c.threshold, c.passed) for c in d.criteria] == [
        ("relevance_accuracy", 0.75, True), ("precision", 0.45, True), ("recall", 0.75, True), ("gs_accuracy", 0.70, True),
        ("cascade_at_0.7_vs_teacher_lower_bound_0.95", -0.10, True), ("cascade_offload_at_0.7", 0.2, True),
        ("GS1_cascade_vs_teacher", -0.15, True), ("GS2_cascade_vs_teacher", -0.15, True), ("GS3_cascade_vs_teacher", -0.15, True),
        ("GS4_cascade_vs_teacher", -0.15, True),
    ]
    assert {c.name: c for c in d.criteria}["recall"].interval == (0.85, 0.95)


@pytest.mark.parametrize(
    "change, failing",
    [
        ({"student": {"relevance_accuracy": 0.74}}, "relevance_accuracy"),
        ({"student": {"precision": 0.44}}, "precision"),
        ({"student": {"recall": 0.7}}, "recall"),
        ({"student": {"gs_accuracy": 0.69}}, "gs_accuracy"),
        ({"lower_bound": -0.11}, "cascade_at_0.7_vs_teacher_lower_bound_0.95"),  # the point gap may be small; the evidence is not
        ({"lower_bound": None}, "cascade_at_0.7_vs_teacher_lower_bound_0.95"),   # undefined never passes
        ({"offload": 0.1}, "cascade_offload_at_0.7"),  # the cascade would hardly take work off the teacher
        ({"cascade_papers": {"1": 0.84, "2": 0.8, "3": 0.6, "4": 0.75}}, "GS3_cascade_vs_teacher"),  # 0.6 vs 0.8
    ],
)
def test_each_criterion_alone_rejects(change, failing):
    d = decide(_result(**change), GateSettings())
    assert d.verdict == "reject"
    assert [c.name for c in d.criteria if not c.passed] == [failing]
    assert d.reasons[0].startswith(failing)


def test_too_little_gold_is_insufficient_data_and_says_what_to_label_next():
    d = decide(_result(n=99), GateSettings())
    assert d.verdict == "insufficient-data"
    assert d.reasons[0].startswith("99 evaluation gold chunks, 100 needed: label about 2 more")
    short = decide(_result(per_paper=17), GateSettings())
    assert short.verdict == "insufficient-data" and len(short.reasons) == 4
    assert "GS1: 17 evaluation gold chunks, 20 needed: label about 6 more GS1 chunks" in short.reasons[0]
    assert "upscway gold export --label GS1" in short.reasons[0]
    assert not any(c.name.startswith("GS") for c in short.criteria)  # a paper short of gold is not judged


def test_without_a_cascade_that_qualifies_nothing_is_promoted():
    d = decide(_result(chosen=False), GateSettings())
    assert d.verdict == "reject" and {c.name for c in d.criteria if not c.passed} == {
        "cascade_vs_teacher_lower_bound_0.95", "cascade_offload"}


def test_a_paper_without_gold_is_not_judged():
    d = decide(_result(empty_paper=4), GateSettings())
    assert d.verdict == "promote" and "GS4_cascade_vs_teacher" not in [c.name for c in d.criteria]
