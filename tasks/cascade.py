"""The cascade: the production student decides the chunks it is sure of, the teacher the rest.

Plain functions over scores, so routing and its statistics are tested on hand-made
probabilities; `tasks/tagging.py` feeds them from the store and the models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from upscway.storage.tags import ChunkRef

Probs = Sequence[float]
DEFAULT_THRESHOLD = 0.8  # for a production model promoted without a validated threshold


@dataclass(frozen=True)
class Tag:
    """A chunk's final label and who decided it."""

    chunk_id: str
    text_hash: str
    label: str
    probs: list[float]
    confidence: float
    decided_by: str  # student | teacher
    annotator: str


def is_uncertain(probs: Probs, confidence_threshold: float, relevance_band: tuple[float, float]) -> bool:
    """True when the student's top probability is below the threshold, or when its relevance
    (1 - p(NOT_RELEVANT), label 0) falls inside the uncertainty band."""
    relevance = 1.0 - probs[0]
    low, high = relevance_band
    return max(probs) < confidence_threshold or low <= relevance <= high


def for_teacher(hashes: Sequence[str], student: Mapping[str, Probs], threshold: float, band: tuple[float, float]) -> set[str]:
    """The chunk texts the teacher must decide: those the student did not score (no
    production model) or is unsure of."""
    return {h for h in hashes if h not in student or is_uncertain(student[h], threshold, band)}


def final_tags(
    chunks: Sequence[ChunkRef], student: Mapping[str, Probs], teacher: Mapping[str, Probs], unsure: set[str],
    names: Sequence[str], student_annotator: str | None, teacher_annotator: str,
) -> list[Tag]:
    """One tag per chunk: the teacher's answer where the student was unsure,
    the student's elsewhere. An unsure chunk the teacher could not answer gets no tag yet (its
    failure is recorded; a later run tags it)."""
    tags = []
    for chunk in chunks:
        chunk_id, text_hash = chunk.chunk_id, chunk.text_hash
        if text_hash in unsure:
            if text_hash not in teacher:
                continue
            probs, decided_by, annotator = teacher[text_hash], "teacher", teacher_annotator
        else:
            probs, decided_by, annotator = student[text_hash], "student", student_annotator
        best = max(range(len(probs)), key=probs.__getitem__)
        tags.append(Tag(chunk_id, text_hash, names[best], list(probs), probs[best], decided_by, annotator))
    return tags


def statistics(
    tags: Sequence[Tag], student: Mapping[str, Probs], teacher: Mapping[str, Probs], requests: int, cost_per_answer: float
) -> dict:
    """Offload (the share the student decided), teacher requests made and saved, the cost
    saved (saved requests × the teacher's mean cost per answer), and agreement where both
    labelled the same text."""
    by_student = sum(t.decided_by == "student" for t in tags)
    both = [h for h in student if h in teacher]
    agree = sum(_top(student[h]) == _top(teacher[h]) for h in both)
    return {
        "tagged": len(tags), "by_student": by_student, "by_teacher": len(tags) - by_student,
        "offload_rate": by_student / len(tags) if tags else 0.0,
        "teacher_requests": requests, "teacher_requests_saved": by_student,
        "estimated_cost_saved": round(by_student * cost_per_answer, 6),
        "agreement_on_both_labelled": agree / len(both) if both else None, "both_labelled": len(both),
    }


def _top(probs: Probs) -> int:
    return max(range(len(probs)), key=probs.__getitem__)


THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(21)) + (1.01,)  # 1.01: the teacher decides everything


def routed(student: Sequence[Probs], teacher: Sequence[Probs], threshold: float, band: tuple[float, float]) -> list[Probs]:
    """The cascade's answers: the student's where it is sure at `threshold`, the teacher's elsewhere."""
    return [t if is_uncertain(s, threshold, band) else s for s, t in zip(student, teacher)]


def operating_curve(
    student: Sequence[Probs], teacher: Sequence[Probs], gold: Sequence[int], band: tuple[float, float],
    thresholds: Sequence[float] = THRESHOLDS,
) -> list[dict]:
    """The cascade as deployed, on gold: at each confidence threshold, its accuracy (the
    student's answer where it is sure, the teacher's elsewhere) and its offload (the share the
    student decides)."""
    curve = []
    for threshold in thresholds:
        sure = [not is_uncertain(s, threshold, band) for s in student]
        right = [_top(a) == g for a, g in zip(routed(student, teacher, threshold, band), gold)]
        curve.append({"threshold": threshold, "accuracy": sum(right) / len(gold) if gold else None,
                      "offload": sum(sure) / len(gold) if gold else 0.0})
    return curve


def choose_threshold(curve: Sequence[dict], teacher_accuracy: float | None, tolerance: float) -> dict | None:
    """The point with the most offload whose accuracy stays within `tolerance` of the teacher
    alone (ties: the more accurate, then the higher threshold); None when no point qualifies."""
    if teacher_accuracy is None:
        return None
    fine = [p for p in curve if p["accuracy"] is not None and p["accuracy"] >= teacher_accuracy - tolerance]
    return max(fine, key=lambda p: (p["offload"], p["accuracy"], p["threshold"]), default=None)


def at_threshold(curve: Sequence[dict], threshold: float) -> dict | None:
    """The curve's point nearest `threshold` from above (the configured threshold's figures)."""
    above = [p for p in curve if p["threshold"] >= threshold - 1e-9]
    return min(above, key=lambda p: p["threshold"], default=None)


def drift(night: Mapping[str, Probs], validation_confidences: Sequence[float], threshold: float, tolerance: float) -> dict | None:
    """The student's mean confidence and deferral rate (confidence below `threshold`) on the
    night's chunks against its validation split; `warning` says what moved when either differs
    by more than `tolerance` (the news changed, or the model is confidently lost). None without
    both sides to compare."""
    if not night or not validation_confidences:
        return None
    tonight = [max(p) for p in night.values()]
    figures = {
        "night_mean_confidence": sum(tonight) / len(tonight),
        "validation_mean_confidence": sum(validation_confidences) / len(validation_confidences),
        "night_deferral": sum(c < threshold for c in tonight) / len(tonight),
        "validation_deferral": sum(c < threshold for c in validation_confidences) / len(validation_confidences),
    }
    moved = [
        f"{what} {figures['night_' + key]:.2f} tonight vs {figures['validation_' + key]:.2f} on validation"
        for key, what in (("mean_confidence", "mean confidence"), ("deferral", "deferral rate"))
        if abs(figures["night_" + key] - figures["validation_" + key]) > tolerance
    ]
    return {**{k: round(v, 4) for k, v in figures.items()},
            "warning": f"the student's scores drifted: {'; '.join(moved)}; check recent tags and consider new gold" if moved else None}
