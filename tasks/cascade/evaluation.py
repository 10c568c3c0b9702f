"""The cascade evaluated as it is deployed: its threshold certified on a calibration sample
(`tasks/cascade/certificate.py`), and its figures reported on gold the certificate did not see: the operating
curve over confidence thresholds, and the certified point's scores (the gate judges the seed
criteria on them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from upscway.results import CascadeEvaluation, OperatingPoint
from upscway.settings import CascadeSettings
from upscway.tasks.metrics import scores
from upscway.tasks.cascade.certificate import THRESHOLDS, Sample, certify_cascade
from upscway.tasks.cascade.routing import Probs, finite, is_uncertain, routed, top


def operating_curve(
    student: Sequence[Probs], teacher: Sequence[Probs], gold: Sequence[int], band: tuple[float, float], not_relevant: int,
    thresholds: Sequence[float] = THRESHOLDS,
) -> list[OperatingPoint]:
    """At each confidence threshold, the cascade's accuracy on gold (the student's answer where
    it is sure, the teacher's elsewhere) and its offload (the share the student decides)."""
    curve = []
    for threshold in thresholds:
        sure = [not is_uncertain(s, threshold, band, not_relevant) for s in student]
        right = [top(a) == g for a, g in zip(routed(student, teacher, threshold, band, not_relevant), gold)]
        curve.append(OperatingPoint(threshold=threshold, accuracy=sum(right) / len(gold) if gold else None,
                                    offload=sum(sure) / len(gold) if gold else 0.0))
    return curve


def at_threshold(curve: Sequence[OperatingPoint], threshold: float) -> OperatingPoint | None:
    """The curve's point nearest `threshold` from above (the configured threshold's figures)."""
    above = [p for p in curve if p.threshold >= threshold - 1e-9]
    return min(above, key=lambda p: p.threshold, default=None)


def evaluate_cascade(
    student: Sequence[Probs], teacher: Sequence[Probs], gold: Sequence[int], n_labels: int, not_relevant: int,
    settings: CascadeSettings, consistency: Sample, accuracy: Sample | None, since: datetime | None = None,
) -> CascadeEvaluation:
    """The certificate (on `consistency`, held-out teacher answers, and `accuracy`, random gold
    with the teacher's correctness), then on the reported gold (`student`, `teacher`, `gold`):
    the curve, the certified point with the cascade's scores and accuracy per paper, and the
    figures at the configured threshold. `since`: the held-out answers are those given since the
    production cascade's fallback began."""
    band = settings.relevance_band
    certificate, certificates = certify_cascade(consistency, accuracy, not_relevant, band, settings.max_loss, settings.risk_level)
    curve = operating_curve(student, teacher, gold, band, not_relevant)
    chosen = None
    if certificate is not None and certificate.threshold is not None:
        deployed = scores(routed(student, teacher, certificate.threshold, band, not_relevant), gold, n_labels, not_relevant)
        point = at_threshold(curve, certificate.threshold)
        chosen = point.model_copy(update={"scores": deployed, "gs_accuracy_per_paper": deployed.gs_accuracy_per_paper})
    configured = None if settings.confidence_threshold is None else at_threshold(curve, settings.confidence_threshold)
    return CascadeEvaluation(relevance_band=band, certificate=certificate, certificates=certificates,
                             confidence=1 - settings.risk_level, curve=tuple(curve), chosen=chosen, configured=configured,
                             calibrated_since=None if since is None else f"{since:%Y-%m-%d %H:%M}",
                             reference_confidences=tuple(round(max(p), 4) for p in consistency.student if finite(p)))
