"""The promotion gate: every criterion with its value, interval, threshold and verdict.

A decision is `promote` only when every criterion passes on enough gold data; below the
minimum support it is `insufficient-data`, whatever the metrics say, and the reasons say what
to label next. A metric that could not be computed (None) fails its criterion.

The criteria:
- the seed report's success criteria on the candidate alone (relevance accuracy, precision,
  recall, GS-paper accuracy), as point estimates with their bootstrap intervals shown;
- what production runs is the cascade (the student where it is sure, the teacher elsewhere),
  at the confidence threshold chosen on the same gold (the most offload while its accuracy
  stays within `cascade.accuracy_tolerance` of the teacher alone; promotion records it and
  `tag` routes with it). So non-inferiority is judged on the cascade, on evidence: the
  one-sided lower confidence bound of (cascade − teacher) accuracy, from the paired bootstrap
  over the same gold chunks, must be at least −max_gap_to_teacher (a point estimate would pass
  a system worse by chance-sized margins on 100 chunks); and the student must decide at least
  `min_cascade_offload` of the chunks there, or it replaces nothing;
- a per-paper guard on the cascade: no GS paper with enough gold may fall more than
  max_paper_drop below the teacher's accuracy on it (an overall pass can hide one paper
  collapsing).
The student alone's gap, interval and McNemar test are in the report, not in the gate.
"""

from __future__ import annotations

from upscway.results import Criterion, Decision, PairedResult, Verdict
from upscway.settings import GateSettings

EXPORT_HINT = "upscway gold export --strategy random --n {n} --out review.csv"


def _interval(ci: dict, name: str) -> tuple[float, float] | None:
    found = ci.get(name)
    return tuple(found) if found else None


def decide(result: PairedResult, gate: GateSettings) -> Decision:
    """Judge a paired evaluation and the cascade built on it."""
    student, teacher, ci = result.student, result.teacher, result.paired.ci95
    support = gate_support(result)
    chosen = result.chosen
    at = f"_at_{chosen.threshold:g}" if chosen else ""
    criteria = [
        Criterion("relevance_accuracy", student.relevance_accuracy, gate.min_relevance_accuracy, ">=", _interval(ci, "relevance_accuracy")),
        Criterion("precision", student.precision, gate.min_precision, ">=", _interval(ci, "precision")),
        Criterion("recall", student.recall, gate.min_recall, ">=", _interval(ci, "recall")),
        Criterion("gs_accuracy", student.gs_accuracy, gate.min_gs_accuracy, ">=", _interval(ci, "gs_accuracy")),
        Criterion(f"cascade{at}_vs_teacher_lower_bound_{gate.confidence:g}", chosen and chosen.lower_bound, -gate.max_gap_to_teacher, ">="),
        Criterion(f"cascade_offload{at}", chosen and chosen.offload, gate.min_cascade_offload, ">="),
    ]
    own, theirs = chosen.gs_accuracy_per_paper if chosen else {}, teacher.gs_accuracy_per_paper
    for paper in sorted(own):
        if support.get(paper, 0) >= max(gate.min_support_per_paper, 1) and own[paper] is not None and theirs.get(paper) is not None:
            criteria.append(Criterion(f"GS{paper}_cascade_vs_teacher", own[paper] - theirs[paper], -gate.max_paper_drop, ">="))
    short = _shortfalls(support, gate)
    if short:
        return Decision(Verdict.INSUFFICIENT_DATA, tuple(criteria), tuple(short))
    failed = tuple(f"{c.name} = {_fmt(c.value)} (needs {c.comparison} {c.threshold:g})" for c in criteria if not c.passed)
    return Decision(Verdict.REJECT if failed else Verdict.PROMOTE, tuple(criteria), failed)


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def _shortfalls(support: dict[str, int], gate: GateSettings) -> list[str]:
    """What is missing, as the labelling to do next (about half of new gold lands in the
    evaluation split, so twice the shortfall is asked for)."""
    short = []
    total = support.get("total", 0)
    if total < gate.min_gold_support:
        need = gate.min_gold_support - total
        short.append(f"{total} evaluation gold chunks, {gate.min_gold_support} needed: label about {2 * need} more "
                     f"(`{EXPORT_HINT.format(n=2 * need)}`, then `upscway gold import review.csv`)")
    for paper, n in sorted(support.items()):
        if paper != "total" and 0 < n < gate.min_support_per_paper:
            need = gate.min_support_per_paper - n
            short.append(f"GS{paper}: {n} evaluation gold chunks, {gate.min_support_per_paper} needed: label about {2 * need} more "
                         f"GS{paper} chunks (`upscway gold export --label GS{paper} --n {4 * need} --out review.csv` shows the "
                         f"chunks the teacher put in GS{paper})")
    return short


def gate_support(result: PairedResult) -> dict[str, int]:
    """Gold chunks in all and per paper, read off the candidate's confusion matrix (rows: gold)."""
    confusion = result.student.confusion
    return {"total": result.paired.n, **{str(i): sum(confusion[i]) for i in result.paired.papers(len(confusion))}}
