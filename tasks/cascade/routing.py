"""The cascade's routing: the production student decides the chunks it is sure of, the teacher
the rest.

Plain functions over scores, so routing and its statistics are tested on hand-made
probabilities; `steps.py` feeds them from the store and the models.

A score vector that is missing (None: the scorer refused it) or holds a number that is not
finite decides nothing: it is uncertain, its chunk goes to the teacher, and it counts in no
figure. NaN compares False with everything, so a NaN confidence would otherwise pass every
"below the threshold?" test and its argmax would be label 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from upscway.records import Decider, Tag
from upscway.storage.tags import ChunkRef

Probs = Sequence[float]
DEFAULT_THRESHOLD = 0.8  # for a production model promoted without a validated threshold


def top(probs: Probs) -> int:
    return max(range(len(probs)), key=probs.__getitem__)


def finite(probs: Probs | None) -> bool:
    """Whether `probs` is a score vector at all: present, not empty, every number finite."""
    return probs is not None and len(probs) > 0 and all(math.isfinite(p) for p in probs)


def not_finite(student: Mapping[str, Probs | None], hashes: Sequence[str]) -> list[str]:
    """The texts among `hashes` the student scored with a vector that is not `finite`."""
    return [h for h in hashes if h in student and not finite(student[h])]


def is_uncertain(
    probs: Probs | None, confidence_threshold: float, relevance_band: tuple[float, float], not_relevant: int,
) -> bool:
    """True when the scores are not `finite` (they decide nothing), when the student's top
    probability is below the threshold, or when its relevance (1 − p(not relevant), the task's
    `not_relevant` label) falls inside the uncertainty band."""
    if not finite(probs):
        return True
    relevance = 1.0 - probs[not_relevant]
    low, high = relevance_band
    return max(probs) < confidence_threshold or low <= relevance <= high


def for_teacher(
    hashes: Sequence[str], student: Mapping[str, Probs | None], threshold: float, band: tuple[float, float], not_relevant: int
) -> set[str]:
    """The chunk texts the teacher must decide: those the student did not score (no
    production model) or is unsure of."""
    return {h for h in hashes if h not in student or is_uncertain(student[h], threshold, band, not_relevant)}


def routed(
    student: Sequence[Probs], teacher: Sequence[Probs], threshold: float, band: tuple[float, float], not_relevant: int
) -> list[Probs]:
    """The cascade's answers: the student's where it is sure at `threshold`, the teacher's elsewhere."""
    return [t if is_uncertain(s, threshold, band, not_relevant) else s for s, t in zip(student, teacher)]


def final_tags(
    chunks: Sequence[ChunkRef], student: Mapping[str, Probs | None], teacher: Mapping[str, Probs], unsure: set[str],
    names: Sequence[str], student_annotator: str | None, teacher_annotator: str,
) -> list[Tag]:
    """One tag per chunk: the teacher's answer where the student was unsure (or its scores are
    not `finite`, whatever `unsure` says), the student's elsewhere. An unsure chunk the teacher
    could not answer gets no tag yet (its failure is recorded; a later run tags it)."""
    tags = []
    for chunk in chunks:
        if chunk.text_hash in unsure or not finite(student.get(chunk.text_hash)):
            if chunk.text_hash not in teacher:
                continue
            probs, decided_by, annotator = teacher[chunk.text_hash], Decider.TEACHER, teacher_annotator
        else:
            probs, decided_by, annotator = student[chunk.text_hash], Decider.STUDENT, student_annotator
        best = top(probs)
        tags.append(Tag(chunk.chunk_id, chunk.text_hash, names[best], list(probs), probs[best], decided_by, annotator))
    return tags


def statistics(
    tags: Sequence[Tag], student: Mapping[str, Probs | None], teacher: Mapping[str, Probs], requests: int, cost_per_answer: float,
    audited: int = 0,
) -> dict:
    """Offload (the share the student decided), teacher requests made and saved (the chunks the
    student decided, less the `audited` ones the teacher answered as well), the cost saved
    (saved requests × the teacher's mean cost per answer), and agreement where both labelled the
    same text (where the student's scores are `finite`)."""
    by_student = sum(t.decided_by is Decider.STUDENT for t in tags)
    saved = max(by_student - audited, 0)
    both = [h for h in student if h in teacher and finite(student[h])]
    agree = sum(top(student[h]) == top(teacher[h]) for h in both)
    return {
        "tagged": len(tags), "by_student": by_student, "by_teacher": len(tags) - by_student,
        "offload_rate": by_student / len(tags) if tags else 0.0,
        "teacher_requests": requests, "teacher_requests_saved": saved,
        "estimated_cost_saved": round(saved * cost_per_answer, 6),
        "agreement_on_both_labelled": agree / len(both) if both else None, "both_labelled": len(both),
    }


def reference_scores(metrics: Mapping) -> tuple[Sequence[float], str]:
    """What a production student's nightly scores are compared with, and its name: its top
    probabilities on the held-out news it was certified on (stored at promotion), else on its
    validation split (a student promoted before certificates, or by force)."""
    certified = metrics.get("certified_confidences")
    if certified:
        return certified, "the certificate's sample"
    return metrics.get("validation_confidences", []), "validation"


def drift(
    night: Mapping[str, Probs | None], reference_confidences: Sequence[float], reference: str, threshold: float, tolerance: float,
) -> dict | None:
    """The student's mean confidence and deferral rate (confidence below `threshold`) on the
    night's chunks against `reference` (`reference_confidences`: its scores there; the figures
    keep their `validation_` names, which stored summaries use); `warning`
    says what moved when either differs by more than `tolerance` (the news changed, or the model
    is confidently lost). Only finite scores count (the audit's judge names the others); None
    without both sides to compare."""
    tonight = [max(p) for p in night.values() if finite(p)]
    reference_confidences = [c for c in reference_confidences if math.isfinite(c)]
    if not tonight or not reference_confidences:
        return None
    figures = {
        "night_mean_confidence": sum(tonight) / len(tonight),
        "validation_mean_confidence": sum(reference_confidences) / len(reference_confidences),
        "night_deferral": sum(c < threshold for c in tonight) / len(tonight),
        "validation_deferral": sum(c < threshold for c in reference_confidences) / len(reference_confidences),
    }
    moved = [
        f"{what} {figures['night_' + key]:.2f} tonight vs {figures['validation_' + key]:.2f} on {reference}"
        for key, what in (("mean_confidence", "mean confidence"), ("deferral", "deferral rate"))
        if abs(figures["night_" + key] - figures["validation_" + key]) > tolerance
    ]
    return {**{k: round(v, 4) for k, v in figures.items()}, "reference": reference,
            "warning": f"the student's scores drifted: {'; '.join(moved)}; check recent tags and consider new gold" if moved else None}
