"""The gate on a paired result: promotion only on a certificate whose offload interval's lower
bound is enough, the seed criteria on the cascade at the certified threshold, the per-paper
guard's finite-sample bound on papers with the support it needs (the others named as
unguarded), and shortfalls that say how much more data would certify what, and how to get it,
without ever calling what the sample would support a certificate."""

import math

import numpy as np
import pytest

from tests.support.certificates import certificate
from upscway.results import PairedResult
from upscway.settings import GateSettings
from upscway.tasks.cascade.certificate import upper_bound
from upscway.tasks.cascade.evalues import certify_p, power
from upscway.tasks.evaluate.gate import decide, fewest_articles, guard_support

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
        (f"certified_offload_lower_bound{at}", 0.2, True),
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
    assert d.criteria[0].value == low < 0.6 < high and d.certificate.n == 2000 and d.risk_level == 0.05
    assert d.sentence.startswith(
        f"Certified: with 95% confidence the cascade at threshold {d.certificate.threshold:g} loses at most "
        "0.02 accuracy against the teacher (per article, on news like its sample of 2000 articles, "
    )


def test_the_offload_is_judged_on_its_intervals_lower_bound_not_its_point():
    """300 articles, the student sure of 60% of each: the point clears 55%, the interval (Hoeffding,
    52%–68%) does not, so the gate waits for the articles that would narrow it."""
    cert = certificate(n=300, loss_rate=0)
    low, high = cert["offload_interval"]
    assert cert["threshold"] is not None and low < 0.55 < 0.6 == cert["offload"] < high
    d = decide(_result(cert=cert), GateSettings(min_cascade_offload=0.55))
    assert d.verdict == "insufficient-data"
    offload = d.criteria[0]
    assert offload.name == f"certified_offload_lower_bound_at_{cert['threshold']:g}"
    assert offload.value == low and offload.interval == (low, high) and not offload.passed
    need = math.ceil(math.log(2 / 0.05) / (2 * (0.6 - 0.55) ** 2))  # Hoeffding's half-width down to 5 points
    (reason,) = d.reasons
    assert "separately stated; not part of the guarantee" in reason and "below the 55% the gate needs" in reason
    assert f"about {need} articles at that share would lift it (about {need - 300} more articles" in reason
    assert decide(_result(cert=cert), GateSettings(min_cascade_offload=0.5)).verdict == "promote"  # below the bound


def test_the_guard_judges_a_paper_only_on_the_support_its_bound_can_pass_on():
    """With no loss in n, the Clopper–Pearson bound is 1 − δ^(1/n): the guard needs the n at which
    it reaches the drop allowed; a paper with fewer chunks is named unguarded and fails nothing."""
    for level, drop, least in ((0.05, 0.05, 5), (0.05, 0.15, 0), (0.0152, 0.15, 0), (0.05, 0.15, 40)):
        n = guard_support(level, drop, least)
        assert upper_bound(0, n, level) <= drop + 1e-12 and n >= least
        assert n == least or upper_bound(0, n - 1, level) > drop
    assert guard_support(0.05, 0.0) is None
    cert = certificate()
    cert["per_paper"]["3"] = {"n": 40, "losses": 0, "upper_bound": upper_bound(0, 40, 0.05)}  # 0.072
    del cert["per_paper"]["4"]  # no calibration chunk of GS4 at all
    gate = GateSettings(max_paper_drop=0.05, min_support_per_paper=5)
    need = guard_support(0.05, 0.05, 5)
    assert need == 59 and cert["per_paper"]["3"]["upper_bound"] > 0.05  # judged at 40, GS3 would fail
    d = decide(_result(cert=cert), gate)
    assert d.verdict == "promote"
    assert [c.name for c in d.criteria if c.name.endswith("_loss_upper_bound")] == [
        "GS1_loss_upper_bound",
        "GS2_loss_upper_bound",
    ]
    assert d.reasons == (
        f"GS3: 40 calibration chunks, the guard needs {need} to bound its loss at 0.05: unguarded",
        f"GS4: 0 calibration chunks, the guard needs {need} to bound its loss at 0.05: unguarded",
    )
    cert["per_paper"]["1"] = {"n": 500, "losses": 40, "upper_bound": upper_bound(40, 500, 0.05)}
    rejected = decide(_result(cert=cert), gate)  # a judged paper still fails; the unguarded are named, not failed
    assert rejected.verdict == "reject" and rejected.reasons[0].startswith("GS1_loss_upper_bound = ")
    assert rejected.reasons[1:] == d.reasons


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


def test_a_certificate_short_of_data_says_how_many_articles_would_certify_and_how_to_get_them():
    small = certificate(n=200, loss_rate=0.005)  # 1 loss in 120 decided of 200: not enough to certify 0.02
    d = decide(_result(cert=small), GateSettings())
    assert d.verdict == "insufficient-data" and d.certificate.threshold is None
    assert d.sentence.startswith("Not certified: on 200 articles, 200 held-out teacher answers, no threshold")
    reason, random_gold = d.reasons
    assert reason.startswith("on 200 articles (200 held-out teacher answers), the student would decide 60% of chunks")
    assert "at threshold 0.95 and lose 0.005" in reason and "upscway run backfill" in reason
    # what the sample would support is said, and said not to be a certificate; nothing "certifies at most"
    assert "certifies at most" not in reason
    assert (
        "would support ε ≈ 0.038 there (computed after seeing the data: not a certificate; ε is fixed in settings at "
        "0.02)" in reason
    )
    needed = int(reason.split("; about ")[1].split(" articles at that rate would certify it with 80% power")[0])
    assert f"(about {needed - 200} more articles of held-out teacher answers" in reason
    assert power(needed, 0.005, 0.02, 0.05) >= 0.8 > power(needed // 2, 0.005, 0.02, 0.05)
    assert (
        decide(_result(cert=certificate(n=needed, loss_rate=0.005)), GateSettings()).certificate.threshold is not None
    )
    # accuracy loss is untried: the fewest articles of random gold that could certify 0.02 at δ/2, exactly
    least = fewest_articles(0.02, 0.025)
    assert certify_p(np.zeros(least), 0.02) <= 0.025 < certify_p(np.zeros(least - 1), 0.02)
    assert f"random gold from at least {least} articles in the calibration sample" in random_gold
    assert f"--n {4 * least}" in random_gold


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
    assert d.verdict == "insufficient-data" and "on 40 articles the rate is uncertain" in d.reasons[0]
    assert "not a certificate" in d.reasons[0] and "certifies at most" not in d.reasons[0]


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


def test_a_paper_with_too_few_calibration_chunks_is_not_judged_but_named():
    d = decide(_result(), GateSettings(min_support_per_paper=600))  # ~500 calibration chunks per paper
    assert not any(c.name.startswith("GS") for c in d.criteria)
    assert [r for r in d.reasons if r.endswith(": unguarded")] == [
        f"GS{p}: 500 calibration chunks, the guard needs 600 to bound its loss at 0.15: unguarded" for p in range(1, 5)
    ]


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
