"""The cascade evaluated as it is deployed: its threshold certified on a calibration sample
(`tasks/cascade/certificate.py`), and its figures reported on gold the certificate did not see: the operating
curve over confidence thresholds, and the certified point's scores (the gate judges the seed
criteria on them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from upscway.results import CascadeEvaluation, OperatingPoint
from upscway.settings import CascadeSettings
from upscway.tasks.cascade.certificate import THRESHOLDS, Sample, certify_cascade
from upscway.tasks.cascade.policy import CascadePolicy, Guarantee
from upscway.tasks.cascade.routing import Probs, finite, routed, top
from upscway.tasks.metrics import scores
from upscway.taxonomy import TaskDefinition


@dataclass(frozen=True)
class OnGold:
    """The reported gold: the candidate's and the teacher's probabilities on the same chunks,
    and their gold labels (indices), in one order."""

    student: Sequence[Probs]
    teacher: Sequence[Probs]
    gold: Sequence[int]


def operating_curve(
    student: Sequence[Probs],
    teacher: Sequence[Probs],
    gold: Sequence[int],
    band: tuple[float, float],
    not_relevant: int,
    thresholds: Sequence[float] = THRESHOLDS,
) -> list[OperatingPoint]:
    """At each confidence threshold, the cascade's accuracy on gold (the student's answer where
    it is sure, the teacher's elsewhere) and its offload (the share the student decides)."""
    curve = []
    for threshold in thresholds:
        policy = CascadePolicy(threshold, band, not_relevant)
        sure = [policy.decides(s) for s in student]
        right = [top(a) == g for a, g in zip(routed(student, teacher, policy), gold)]
        curve.append(
            OperatingPoint(
                threshold=threshold,
                accuracy=sum(right) / len(gold) if gold else None,
                offload=sum(sure) / len(gold) if gold else 0.0,
            )
        )
    return curve


def at_threshold(curve: Sequence[OperatingPoint], threshold: float) -> OperatingPoint | None:
    """The curve's point nearest `threshold` from above (the configured threshold's figures)."""
    above = [p for p in curve if p.threshold >= threshold - 1e-9]
    return min(above, key=lambda p: p.threshold, default=None)


def evaluate_cascade(
    on_gold: OnGold,
    task_def: TaskDefinition,
    settings: CascadeSettings,
    consistency: Sample,
    accuracy: Sample | None,
    since: datetime | None = None,
    candidate: int = 1,
) -> CascadeEvaluation:
    """The certificate (on `consistency`, held-out teacher answers, and `accuracy`, random gold
    with the teacher's correctness), then on the reported gold (`on_gold`): the curve, the
    certified point with the cascade's scores and accuracy per paper, and the figures at the
    configured threshold. `since`: the held-out answers are those given since the production
    cascade's fallback began; `candidate`: which model this is among those tested at (ε, δ)
    (the certificate's level is spent over candidates)."""
    student, teacher, gold = on_gold.student, on_gold.teacher, on_gold.gold
    band, not_relevant, guarantee = settings.relevance_band, task_def.not_relevant_index, Guarantee.of(settings)
    certificate, certificates = certify_cascade(
        consistency, accuracy, not_relevant, band, guarantee.epsilon, guarantee.delta, candidate
    )
    curve = operating_curve(student, teacher, gold, band, not_relevant)
    chosen = None
    if certificate is not None and certificate.threshold is not None:
        policy = CascadePolicy(certificate.threshold, band, not_relevant)
        deployed = scores(routed(student, teacher, policy), gold, len(task_def.labels), not_relevant)
        point = at_threshold(curve, certificate.threshold)
        chosen = point.model_copy(update={"scores": deployed, "gs_accuracy_per_paper": deployed.gs_accuracy_per_paper})
    configured = None if settings.confidence_threshold is None else at_threshold(curve, settings.confidence_threshold)
    return CascadeEvaluation(
        relevance_band=band,
        certificate=certificate,
        certificates=certificates,
        confidence=1 - guarantee.delta,
        curve=tuple(curve),
        chosen=chosen,
        configured=configured,
        calibrated_since=None if since is None else f"{since:%Y-%m-%d %H:%M}",
        reference_confidences=tuple(round(max(p), 4) for p in consistency.student if finite(p)),
    )
