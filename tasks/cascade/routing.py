"""The cascade's routing: the production student decides the chunks it is sure of, the teacher
the rest, by the one rule of `policy.py` (`CascadePolicy`).

Plain functions over scored chunks (`ScoredChunk`: a chunk, the student's scores on its text,
the teacher's answer once fetched), so routing and its statistics are tested on hand-made
probabilities; `tasks/tag/steps.py` feeds them from the store and the models.

A score vector that is missing (None: the scorer refused it) or holds a number that is not
finite decides nothing: it is uncertain, its chunk goes to the teacher, and it counts in no
figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from upscway.records import ChunkRef, Decider, ScoredChunk, Tag
from upscway.tasks.cascade.policy import CascadePolicy, Probs

DEFAULT_THRESHOLD = 0.8  # for a production model promoted without a validated threshold


def top(probs: Probs) -> int:
    return max(range(len(probs)), key=probs.__getitem__)


def finite(probs: Probs | None) -> bool:
    """Whether `probs` is a score vector at all: present, not empty, every number finite."""
    return probs is not None and len(probs) > 0 and all(math.isfinite(p) for p in probs)


def scored_chunks(chunks: Sequence[ChunkRef], student: Mapping[str, Probs | None]) -> list[ScoredChunk]:
    """Tonight's chunks with the student's scores on their texts (`student`: text hash → its
    scores, None where the scorer refused them; a text it holds no entry for was not scored)."""
    return [
        ScoredChunk(
            c.chunk_id,
            c.text_hash,
            c.language,
            student.get(c.text_hash),
            scored=c.text_hash in student,
            article_id=c.article_id,
        )
        for c in chunks
    ]


def with_answers(chunks: Sequence[ScoredChunk], answers: Mapping[str, Probs]) -> list[ScoredChunk]:
    """`chunks` with the teacher's answers (text hash → its probabilities) on their texts, where
    `answers` has one; an answer fetched earlier is kept."""
    return [replace(c, teacher=answers[c.text_hash]) if c.text_hash in answers else c for c in chunks]


def texts(chunks: Sequence[ScoredChunk]) -> list[str]:
    """The chunks' texts, each once, sorted (several chunks may share a text)."""
    return sorted({c.text_hash for c in chunks})


def student_scores(chunks: Sequence[ScoredChunk]) -> dict[str, Probs | None]:
    """The student's scores per text it scored, each text once, in text order."""
    scored = {c.text_hash: c.student for c in chunks if c.scored}
    return {h: scored[h] for h in sorted(scored)}


def for_teacher(chunks: Sequence[ScoredChunk], policy: CascadePolicy) -> set[str]:
    """The chunk texts the teacher must decide: those the student did not score (no
    production model, a language it does not serve) or does not decide under `policy`."""
    return {c.text_hash for c in chunks if not c.scored or not policy.decides(c.student)}


def routed(student: Sequence[Probs], teacher: Sequence[Probs], policy: CascadePolicy) -> list[Probs]:
    """The cascade's answers: the student's where `policy` lets it decide, the teacher's elsewhere."""
    return [s if policy.decides(s) else t for s, t in zip(student, teacher)]


def final_tags(
    chunks: Sequence[ScoredChunk],
    unsure: set[str],
    names: Sequence[str],
    student_annotator: str | None,
    teacher_annotator: str,
) -> list[Tag]:
    """One tag per chunk: the teacher's answer where the student was unsure (or its scores are
    not `finite`, whatever `unsure` says), the student's elsewhere. An unsure chunk the teacher
    could not answer gets no tag yet (its failure is recorded; a later run tags it)."""
    tags = []
    for chunk in chunks:
        if chunk.text_hash in unsure or not finite(chunk.student):
            if chunk.teacher is None:
                continue
            probs, decided_by, annotator = chunk.teacher, Decider.TEACHER, teacher_annotator
        else:
            probs, decided_by, annotator = chunk.student, Decider.STUDENT, student_annotator
        best = top(probs)
        tags.append(Tag(chunk.chunk_id, chunk.text_hash, names[best], list(probs), probs[best], decided_by, annotator))
    return tags


def statistics(
    tags: Sequence[Tag],
    chunks: Sequence[ScoredChunk],
    requests: int,
    cost_per_answer: float,
    audited: int = 0,
) -> dict:
    """Offload (the share the student decided), teacher requests made and saved (the chunks the
    student decided, less the `audited` ones the teacher answered as well), the cost saved
    (saved requests × the teacher's mean cost per answer), and agreement where both labelled the
    same text (each text once, where the student's scores are `finite`)."""
    by_student = sum(t.decided_by is Decider.STUDENT for t in tags)
    saved = max(by_student - audited, 0)
    both = list({c.text_hash: c for c in chunks if c.scored and c.teacher is not None and finite(c.student)}.values())
    agree = sum(top(c.student) == top(c.teacher) for c in both)
    return {
        "tagged": len(tags),
        "by_student": by_student,
        "by_teacher": len(tags) - by_student,
        "offload_rate": by_student / len(tags) if tags else 0.0,
        "teacher_requests": requests,
        "teacher_requests_saved": saved,
        "estimated_cost_saved": round(saved * cost_per_answer, 6),
        "agreement_on_both_labelled": agree / len(both) if both else None,
        "both_labelled": len(both),
    }


def drift(
    night: Mapping[str, Probs | None],
    reference_confidences: Sequence[float],
    reference: str,
    threshold: float,
    tolerance: float,
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
    return {
        **{k: round(v, 4) for k, v in figures.items()},
        "reference": reference,
        "warning": f"the student's scores drifted: {'; '.join(moved)}; check recent tags and consider new gold"
        if moved
        else None,
    }
