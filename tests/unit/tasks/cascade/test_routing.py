"""The cascade's routing on hand-made scores, and its operating curve on gold."""

import math

from upscway.records import ChunkRef
from upscway.results import StudentMetrics
from upscway.tasks.cascade.policy import CascadePolicy
from upscway.tasks.cascade.routing import drift, final_tags, for_teacher, scored_chunks, statistics, with_answers


def _scored(chunks, student, teacher=None):
    """The chunks as the tag stage carries them: the student's scores, the teacher's answers."""
    return with_answers(scored_chunks(chunks, student), teacher or {})


def _texts(student, teacher=None):
    """One chunk per text of `student` (ids: the text's), scored and answered."""
    return _scored([ChunkRef(h, h) for h in student], student, teacher)


def test_low_confidence_or_borderline_relevance_goes_to_the_teacher():
    band = (0.35, 0.65)
    assert CascadePolicy(0.8, band, 0).decides([0.05, 0.9, 0.02, 0.02, 0.01])
    assert not CascadePolicy(0.8, band, 0).decides([0.05, 0.6, 0.3, 0.03, 0.02])  # top 0.6 < 0.8
    assert not CascadePolicy(0.4, band, 0).decides([0.5, 0.5, 0.0, 0.0, 0.0])  # relevance 0.5 in the band
    assert CascadePolicy(0.8, band, 0).decides([0.9, 0.1, 0.0, 0.0, 0.0])  # confidently not relevant


def test_relevance_is_read_off_the_tasks_not_relevant_label():
    band = (0.35, 0.65)
    assert CascadePolicy(0.8, band, 4).decides([0.0, 0.0, 0.0, 0.1, 0.9])  # label 4 means "serves none": relevance 0.1
    assert not CascadePolicy(0.5, band, 4).decides([0.0, 0.55, 0.0, 0.0, 0.45])  # relevance 1 − 0.45: in the band
    assert CascadePolicy(0.5, band, 0).decides([0.0, 0.55, 0.0, 0.0, 0.45])  # read off label 0 it would be 1.0


SURE_GS2 = [0.02, 0.03, 0.9, 0.03, 0.02]
UNSURE = [0.05, 0.45, 0.4, 0.05, 0.05]
NAMES = ["NOT_RELEVANT", "GS1", "GS2", "GS3", "GS4"]


def test_the_teacher_decides_what_the_student_did_not_score_or_is_unsure_of():
    student, policy = {"h1": SURE_GS2, "h2": UNSURE}, CascadePolicy(0.8, (0.35, 0.65), 0)
    chunks = [ChunkRef(f"c{i}", f"h{i}") for i in (1, 2, 3)]
    assert for_teacher(_scored(chunks, student), policy) == {"h2", "h3"}
    assert for_teacher(_scored(chunks[:2], {}), policy) == {"h1", "h2"}  # no production model


def test_final_tags_take_the_deciders_answer_and_skip_what_nobody_answered():
    chunks = [ChunkRef("c1", "h1"), ChunkRef("c2", "h2"), ChunkRef("c3", "h3"), ChunkRef("c1b", "h1")]
    student = {"h1": SURE_GS2, "h2": UNSURE, "h3": UNSURE}
    teacher = {"h2": [0.1, 0.8, 0.05, 0.03, 0.02]}  # h3: the teacher failed on it
    tags = final_tags(_scored(chunks, student, teacher), {"h2", "h3"}, NAMES, "model:m1", "teacher:t")
    assert [(t.chunk_id, t.label, t.decided_by, t.annotator) for t in tags] == [
        ("c1", "GS2", "student", "model:m1"),
        ("c2", "GS1", "teacher", "teacher:t"),
        ("c1b", "GS2", "student", "model:m1"),
    ]
    assert tags[1].confidence == 0.8 and tags[1].probs == teacher["h2"]


def test_statistics_count_offload_requests_savings_and_agreement():
    student = {"h1": SURE_GS2, "h2": UNSURE}
    teacher = {"h1": [0.0, 0.0, 1.0, 0.0, 0.0], "h2": [0.1, 0.1, 0.7, 0.05, 0.05]}
    chunks = _scored([ChunkRef("c1", "h1"), ChunkRef("c2", "h2")], student, teacher)
    tags = final_tags(chunks, {"h2"}, NAMES, "model:m1", "t")
    stats = statistics(tags, chunks, requests=1, cost_per_answer=0.002)
    assert stats == {
        "tagged": 2,
        "by_student": 1,
        "by_teacher": 1,
        "offload_rate": 0.5,
        "teacher_requests": 1,
        "teacher_requests_saved": 1,
        "estimated_cost_saved": 0.002,
        "agreement_on_both_labelled": 0.5,
        "both_labelled": 2,  # h1 agrees (GS2), h2 does not (GS1 vs GS2)
    }
    assert statistics([], [], 0, 0.0)["offload_rate"] == 0.0


def test_the_operating_curve_on_gold():
    from upscway.tasks.cascade.evaluation import at_threshold, operating_curve

    gold = [1, 2, 3, 4, 0, 1, 2, 3]
    teacher = [[0.0] * g + [1.0] + [0.0] * (4 - g) for g in gold]  # always right
    sure_right = [
        [0.02, 0.9, 0.04, 0.02, 0.02],
        [0.02, 0.04, 0.9, 0.02, 0.02],
        [0.02, 0.02, 0.04, 0.9, 0.02],
        [0.02, 0.02, 0.02, 0.04, 0.9],
    ]
    unsure_wrong = [[0.05, 0.05, 0.05, 0.25, 0.6]] * 4  # top 0.6 (GS4), relevance 0.95: wrong for every gold below
    curve = operating_curve(sure_right + unsure_wrong, teacher, gold, band=(0.35, 0.65), not_relevant=0)
    by_t = {p.threshold: p for p in curve}
    assert (by_t[0.0].offload, by_t[0.0].accuracy) == (1.0, 0.5)  # the student decides all: half wrong
    assert (by_t[0.7].offload, by_t[0.7].accuracy) == (0.5, 1.0)  # the unsure half goes to the teacher
    assert (by_t[1.01].offload, by_t[1.01].accuracy) == (0.0, 1.0)
    assert at_threshold(curve, 0.72).threshold == 0.75


def test_drift_warns_when_the_nights_confidence_or_deferral_moves_from_the_reference():
    validation = [0.9] * 8 + [0.5] * 2  # mean 0.82, deferral at 0.8: 0.2
    alike = drift(
        {f"h{i}": [0.05, 0.9, 0.05] if i % 5 else [0.5, 0.3, 0.2] for i in range(10)},
        validation,
        "validation",
        0.8,
        0.15,
    )
    assert alike["warning"] is None and alike["night_deferral"] == 0.2
    lost = drift({f"h{i}": [0.4, 0.35, 0.25] for i in range(10)}, validation, "validation", 0.8, 0.15)
    assert lost["night_deferral"] == 1.0 and "deferral rate 1.00 tonight vs 0.20 on validation" in lost["warning"]
    assert "mean confidence 0.40 tonight vs 0.82" in lost["warning"]
    assert (
        drift({}, validation, "validation", 0.8, 0.15) is None
        and drift({"h": [1.0]}, [], "validation", 0.8, 0.15) is None
    )


def test_a_promoted_student_is_compared_with_the_news_it_was_certified_on():
    def reference_scores(stored: dict):
        return StudentMetrics.model_validate(stored).reference()

    assert reference_scores({"validation_confidences": [0.5], "certified_confidences": [0.9, 0.8]}) == (
        [0.9, 0.8],
        "the certificate's sample",
    )
    assert reference_scores({"validation_confidences": [0.5]}) == ([0.5], "validation")


NAN, INF = float("nan"), float("inf")
BROKEN = {
    "nan": [NAN] * 5,
    "one nan": [0.02, 0.03, 0.9, NAN, 0.02],
    "inf": [0.0, INF, 0.0, 0.0, 0.0],
    "-inf": [0.05, 0.9, -INF, 0.03, 0.02],
    "refused": None,
    "empty": [],
}


def test_scores_that_are_not_finite_decide_nothing_and_count_in_no_figure():
    """Issue 30, row 8: NaN compares False, so a NaN confidence passed "below the threshold?"
    and its argmax was label 0 (NOT_RELEVANT): decided by the student, with [nan×5] stored."""
    band = (0.35, 0.65)
    for name, probs in BROKEN.items():
        assert not CascadePolicy(0.0, band, 0).decides(probs), name  # at 0 every finite vector outside the band decides
        assert not CascadePolicy(0.8, (2.0, 3.0), 4).decides(probs), name
    student = {"sure": SURE_GS2, **BROKEN}
    assert for_teacher(_texts(student), CascadePolicy(0.0, band, 0)) == set(BROKEN)
    chunks = [ChunkRef(f"c-{h}", h) for h in student]
    teacher = {"nan": [0.1, 0.8, 0.05, 0.03, 0.02]}
    tags = final_tags(_scored(chunks, student, teacher), set(), NAMES, "model:m1", "teacher:t")  # even if not deferred
    assert [(t.chunk_id, t.decided_by) for t in tags] == [("c-sure", "student"), ("c-nan", "teacher")]
    answered = _scored(chunks, student, {**teacher, "sure": SURE_GS2, "inf": SURE_GS2})
    stats = statistics(tags, answered, requests=1, cost_per_answer=0.0)
    assert (stats["both_labelled"], stats["agreement_on_both_labelled"]) == (
        1,
        1.0,
    )  # only the finite student scores compare


def test_the_drift_check_reads_finite_scores_only():
    validation = [0.9] * 8 + [0.5] * 2
    night = {f"h{i}": [0.05, 0.9, 0.05] for i in range(10)} | {"nan": [NAN] * 3, "none": None}
    moved = drift(night, validation + [NAN], "validation", 0.8, 0.15)
    assert moved["night_mean_confidence"] == 0.9 and moved["validation_mean_confidence"] == 0.82
    assert all(math.isfinite(v) for k, v in moved.items() if k.startswith(("night", "validation")))
    assert (
        drift({"nan": [NAN] * 3}, validation, "validation", 0.8, 0.15) is None
    )  # nothing finite to compare: the audit names it
