"""The gate on a paired result: promotion only on a certificate whose offload is enough, the
seed criteria on the cascade at the certified threshold, the per-paper guard's finite-sample
bound, and shortfalls that say how much more data would certify what, and how to get it."""

import numpy as np
import pytest
from scipy.stats import binom

from tests.support.certificates import certificate
from upscway.results import PairedResult
from upscway.settings import GateSettings
from upscway.tasks.cascade.certificate import samples_needed
from upscway.tasks.evaluate.gate import decide

GOOD = {
    "relevance_accuracy": 0.9,
    "precision": 0.8,
    "recall": 0.9,
    "gs_accuracy": 0.8,
    "accuracy": 0.8,
    "gs_accuracy_per_paper": {"1": 0.8, "2": 0.8, "3": 0.8, "4": 0.8},
}
TEACHER = {"accuracy": 0.82, "gs_accuracy_per_paper": {"1": 0.85, "2": 0.8, "3": 0.8, "4": 0.75}}


def _result(student=None, teacher=None, cascade_scores=None, per_paper=40, n=200, cert=None, chosen=True, also=None):
    confusion = [[40, 0, 0, 0, 0]] + [[0] * i + [per_paper] + [0] * (4 - i) for i in range(1, 5)]
    cert = certificate() if cert is None else cert
    point = (
        {"threshold": cert["threshold"], "offload": 0.6, "accuracy": 0.81, "scores": {**GOOD, **(cascade_scores or {})}}
        if chosen and cert and cert["threshold"] is not None
        else None
    )
    return PairedResult.model_validate(
        {
            "student": {**GOOD, **(student or {}), "confusion": confusion},
            "teacher": {**TEACHER, **(teacher or {})},
            "paired": {"n": n, "ci95": {"accuracy_gap": [-0.03, 0.07], "recall": [0.85, 0.95]}},
            "cascade": {
                "certificate": cert or None,
                "certificates": ([cert] if cert else []) + ([also] if also else []),
                "confidence": 0.95,
                "chosen": point,
            },
        }
    )


def test_a_certified_cascade_passing_every_criterion_promotes_with_its_certificate():
    d = decide(_result(), GateSettings())
    assert d.verdict == "promote" and d.reasons == ()
    at = f"_at_{d.certificate.threshold:g}"
    assert [(c.name, c.threshold, c.passed) for c in d.criteria] == [
        (f"certified_offload{at}", 0.2, True),
        (f"cascade{at}_relevance_accuracy", 0.75, True),
        (f"cascade{at}_precision", 0.45, True),
        (f"cascade{at}_recall", 0.75, True),
        (f"cascade{at}_gs_accuracy", 0.70, True),
        ("GS1_loss_upper_bound", 0.15, True),
        ("GS2_loss_upper_bound", 0.15, True),
        ("GS3_loss_upper_bound", 0.15, True),
        ("GS4_loss_upper_bound", 0.15, True),
    ]
    low, high = d.criteria[0].interval
    assert low < 0.6 < high and d.certificate.n == 2000 and d.risk_level == 0.05
    assert d.sentence.startswith(
        f"Certified: with 95% confidence the cascade at threshold {d.certificate.threshold:g} loses at most "
        "0.02 accuracy against the teacher; the student decides 60% of chunks ("
    )


@pytest.mark.parametrize(
    "change, failing",
    [
        ({"cascade_scores": {"relevance_accuracy": 0.74}}, "relevance_accuracy"),
        ({"cascade_scores": {"precision": 0.44}}, "precision"),
        ({"cascade_scores": {"recall": 0.7}}, "recall"),
        ({"cascade_scores": {"gs_accuracy": 0.69}}, "gs_accuracy"),
        (
            {"cert": certificate(paper_losses=60, epsilon=0.05)},
            "GS3_loss_upper_bound",
        ),  # 60 of 500 paper-3 chunks lost: bound > 0.1
    ],
)
def test_each_criterion_alone_rejects(change, failing):
    d = decide(_result(**change), GateSettings(max_paper_drop=0.1) if failing.startswith("GS") else GateSettings())
    assert d.verdict == "reject"
    assert [
        c.name.split("_at_")[-1].split("_", 1)[-1] if c.name.startswith("cascade") else c.name
        for c in d.criteria
        if not c.passed
    ] == [failing]


def test_a_certificate_short_of_data_says_how_much_more_would_certify_and_how_to_get_it():
    small = certificate(n=200, loss_rate=0.005)  # 1 loss in 120 decided of 200: not enough to certify 0.02
    d = decide(_result(cert=small), GateSettings())
    assert d.verdict == "insufficient-data" and d.certificate.threshold is None
    assert d.sentence.startswith("Not certified: on 200 held-out teacher answers, no threshold")
    reason, random_gold = d.reasons
    needed = int(reason.split("; ")[3].split(" held-out")[0])
    assert "would decide 60% of chunks at threshold 0.95 and lose 0.005" in reason and "upscway run backfill" in reason
    assert f"about {needed - 200} more" in reason
    least = samples_needed(
        0.0, 0.02, 0.025
    )  # accuracy loss is untried: the fewest random gold that could certify 0.02 at δ/2
    assert (
        f"at least {least} random gold in the calibration sample" in random_gold and f"--n {4 * least}" in random_gold
    )
    # the arithmetic is exact: at that loss rate `needed` chunks certify 0.02 at δ = 0.05, and one fewer would not
    assert binom.cdf(np.floor(0.005 * needed + 1e-9), needed, 0.02) <= 0.05
    assert (
        decide(_result(cert=certificate(n=needed, loss_rate=0.005)), GateSettings()).certificate.threshold is not None
    )


def test_a_student_that_surely_loses_more_than_epsilon_on_both_losses_is_rejected_whatever_the_data():
    consistency = certificate(loss_rate=0.05)  # 100 losses in 2000: at least 0.04 with 97.5% confidence
    alone = decide(_result(cert=consistency), GateSettings())
    assert (
        alone.verdict == "insufficient-data"
    )  # accuracy loss on random gold is untried: it may certify a student that
    assert (
        "no amount of held-out teacher answers certifies it" in alone.reasons[0]
    )  # disagrees where the teacher is wrong
    both = decide(_result(cert=consistency, also=certificate(loss_rate=0.05, loss="accuracy")), GateSettings())
    assert both.verdict == "reject" and both.certificate.threshold is None
    assert "no amount of random gold labels certifies it" in both.reasons[1]


def test_a_high_loss_rate_on_a_small_sample_asks_for_more_data_rather_than_rejecting():
    d = decide(_result(cert=certificate(n=40, loss_rate=0.05)), GateSettings())  # 2 of 40: could be below 0.02
    assert d.verdict == "insufficient-data" and "the rate is uncertain" in d.reasons[0]


def test_an_evaluation_without_a_certificate_never_promotes():
    d = decide(_result(cert={}), GateSettings())
    assert d.verdict == "insufficient-data" and d.certificate is None
    assert d.reasons[0].startswith("no certificate") and d.sentence.startswith("Not certified")


def test_too_little_reported_gold_is_insufficient_data_and_says_what_to_label_next():
    d = decide(_result(n=99), GateSettings())
    assert d.verdict == "insufficient-data"
    assert d.reasons[0].startswith("99 evaluation gold chunks, 100 needed: label about 2 more")
    short = decide(_result(per_paper=17), GateSettings())
    assert short.verdict == "insufficient-data" and len(short.reasons) == 4
    assert "GS1: 17 evaluation gold chunks, 20 needed: label about 6 more GS1 chunks" in short.reasons[0]
    assert "upscway gold export --label GS1" in short.reasons[0]


def test_a_paper_with_too_few_calibration_chunks_is_not_judged():
    d = decide(_result(), GateSettings(min_support_per_paper=600))  # ~500 calibration chunks per paper
    assert not any(c.name.startswith("GS") for c in d.criteria)


def test_criteria_and_shortfalls_name_the_tasks_own_labels():
    """Another taxonomy's papers are named by its labels (rows stored before names were say GS<n>)."""
    result = _result(per_paper=17)
    named = result.model_copy(
        update={"paired": result.paired.model_copy(update={"labels": ("NONE", "ECON", "POLITY", "SCI", "ETHICS")})}
    )
    short = decide(named, GateSettings())
    assert short.reasons[0].startswith("ECON: 17 evaluation gold chunks") and "--label ECON" in short.reasons[0]
    judged = decide(
        named.model_copy(
            update={"student": named.student.model_copy(update={"confusion": _result().student.confusion})}
        ),
        GateSettings(),
    )
    assert [c.name for c in judged.criteria if c.name.endswith("_loss_upper_bound")] == [
        "ECON_loss_upper_bound",
        "POLITY_loss_upper_bound",
        "SCI_loss_upper_bound",
        "ETHICS_loss_upper_bound",
    ]


def test_a_criterion_whose_value_is_not_finite_fails_whichever_the_comparison():
    """NaN compares False, infinities compare True with one side: a figure that is not finite
    passes no criterion."""
    from upscway.results import Criterion

    for value in (float("nan"), float("inf"), float("-inf")):
        assert not Criterion("figure", value, 0.5, ">=").passed and not Criterion("figure", value, 0.5, "<=").passed
    assert Criterion("figure", 0.6, 0.5, ">=").passed and Criterion("figure", 0.4, 0.5, "<=").passed
