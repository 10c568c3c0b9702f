"""The cascade evaluated on gold, as it is deployed: the operating curve over confidence
thresholds, the threshold chosen on it, and the chosen point paired against the teacher alone."""

from __future__ import annotations

from collections.abc import Sequence

from upscway.results import CascadeEvaluation, OperatingPoint
from upscway.settings import CascadeSettings
from upscway.tasks.evaluate.paired import evaluate_pair
from upscway.tasks.tag.routing import Probs, is_uncertain, routed, top

THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(21)) + (1.01,)  # 1.01: the teacher decides everything


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


def choose_threshold(curve: Sequence[OperatingPoint], teacher_accuracy: float | None, tolerance: float) -> OperatingPoint | None:
    """The point with the most offload whose accuracy stays within `tolerance` of the teacher
    alone (ties: the more accurate, then the higher threshold); None when no point qualifies."""
    if teacher_accuracy is None:
        return None
    fine = [p for p in curve if p.accuracy is not None and p.accuracy >= teacher_accuracy - tolerance]
    return max(fine, key=lambda p: (p.offload, p.accuracy, p.threshold), default=None)


def at_threshold(curve: Sequence[OperatingPoint], threshold: float) -> OperatingPoint | None:
    """The curve's point nearest `threshold` from above (the configured threshold's figures)."""
    above = [p for p in curve if p.threshold >= threshold - 1e-9]
    return min(above, key=lambda p: p.threshold, default=None)


def evaluate_cascade(
    student: Sequence[Probs], teacher: Sequence[Probs], gold: Sequence[int], n_labels: int, not_relevant: int,
    teacher_accuracy: float | None, settings: CascadeSettings, confidence: float,
) -> CascadeEvaluation:
    """The curve, the chosen threshold (paired against the teacher alone like the student: its
    lower bound of (cascade − teacher) accuracy at `confidence` and its accuracy per paper), and
    the figures at the configured threshold."""
    band = settings.relevance_band
    curve = operating_curve(student, teacher, gold, band, not_relevant)
    chosen = choose_threshold(curve, teacher_accuracy, settings.accuracy_tolerance)
    if chosen:
        answers = routed(student, teacher, chosen.threshold, band, not_relevant)
        deployed = evaluate_pair(answers, teacher, gold, n_labels, not_relevant, confidence=confidence)
        chosen = chosen.model_copy(update={"lower_bound": deployed.paired.noninferiority.lower_bound,
                                           "gs_accuracy_per_paper": deployed.student.gs_accuracy_per_paper})
    configured = None if settings.confidence_threshold is None else at_threshold(curve, settings.confidence_threshold)
    return CascadeEvaluation(tolerance=settings.accuracy_tolerance, relevance_band=band, curve=tuple(curve), chosen=chosen,
                             configured=configured)
