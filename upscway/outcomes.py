"""What a finished flow did, in one plain sentence.

The same sentence goes to the run's log (so the Prefect UI tells the story), to the CLI's
line per step, and to the nightly summary artifact: a run is described once, here, from its
typed summary (`upscway.summaries`).
"""

from __future__ import annotations

import math
from functools import singledispatch
from typing import Any

from upscway.summaries import (
    AnnotateSummary,
    DistillSummary,
    EvaluateSummary,
    FailedOutcome,
    IngestSummary,
    PagesSummary,
    PromoteSummary,
    SkippedOutcome,
    StudySummary,
    Summary,
    TagSummary,
)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _f(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


@singledispatch
def describe(summary: Summary) -> str:
    """One sentence for a flow's summary; for a step that did not complete, why."""
    # a summary without the usual counts (an unknown flow, an older row)
    return ", ".join(f"{k} {_f(v)}" for k, v in summary.model_dump().items() if not isinstance(v, (dict, list)))


@singledispatch
def headline(summary: Summary) -> str:
    """The step's result in a few words, for a summary table (`describe` says it in full)."""
    return describe(summary)


@describe.register(SkippedOutcome)
def _skipped(s: SkippedOutcome) -> str:
    return s.reason


@describe.register(FailedOutcome)
def _failed(s: FailedOutcome) -> str:
    return s.error


@describe.register(PagesSummary)
def _pages(s: PagesSummary) -> str:
    return (
        f"{_n(s.new_urls, 'new URL')}, {s.fetched} fetched: {_n(s.articles, 'article')} and "
        f"{_n(s.chunks, 'chunk')} stored, {_n(s.duplicates, 'duplicate')}, "
        f"{_n(s.failures, 'failure')}"
        + (f"; {s.not_urls} of the URL list's lines not URLs (counted, their text not stored)" if s.not_urls else "")
    )


@headline.register(IngestSummary)
def _ingest_headline(s: IngestSummary) -> str:
    return f"{_n(s.articles, 'article')}, {_n(s.chunks, 'chunk')}"


@describe.register(AnnotateSummary)
def _annotate(s: AnnotateSummary) -> str:
    return f"{_n(s.annotated, 'chunk')} annotated by {s.annotator}, {_n(s.failures, 'failure')}, cost {s.cost:.4f}"


def _languages(s: TagSummary) -> str:
    """The chunks in languages the students do not serve, and where they went."""
    other = s.other_languages
    if not other:
        return ""
    where = "sent to the teacher" if other.route == "teacher" else "skipped (left untagged)"
    each = ", ".join(f"{code}: {n}" for code, n in other.languages.items())
    return f"; {_n(other.chunks, 'chunk')} in other languages ({each}) {where}"


def _drift_warning(s: TagSummary) -> str | None:
    return s.drift.warning if s.drift else None


@describe.register(TagSummary)
def _tag(s: TagSummary) -> str:
    if not s.chunks:
        return "nothing new to tag" + _languages(s)
    who = (
        f"production model {s.production_model}"
        if s.production_model
        else "no production model yet: the teacher decides"
    )
    return (
        f"{_n(s.tagged, 'chunk')} tagged, {s.offload_rate:.0%} by the student ({who}); "
        f"{_n(s.teacher_requests, 'teacher request')} made, {s.teacher_requests_saved} saved "
        f"(about {s.estimated_cost_saved:.4f} in cost)"
        + (
            f", threshold {s.confidence_threshold:g}"
            if s.production_model and s.confidence_threshold is not None
            else ""
        )
        + (f". WARNING: {_drift_warning(s)}" if _drift_warning(s) else "")
        + _languages(s)
        + _audit(s)
    )


@headline.register(TagSummary)
def _tag_headline(s: TagSummary) -> str:
    return (
        f"{s.tagged} tagged, {s.offload_rate:.0%} by the student"
        + (", DRIFT" if _drift_warning(s) else "")
        + (", FALLBACK" if s.fallback else "")
        + (f", {s.other_languages.chunks} in other languages" if s.other_languages else "")
    )


def _audit(s: TagSummary) -> str:
    """The night's audit and live bound, and a fallback, for a tag run with a production student."""
    a, fallback = s.audit, s.fallback
    if not a:
        return ""
    line = (
        (f"; audit raised to {a.audit_rate:g} (the student's scores shifted)" if a.shifted else "; audit")
        + f": {a.audited} of {a.decided} decided chunks ({a.audit_requests} teacher requests), live loss "
        f"{_f(a.live_estimate)} (upper bound {a.live_upper:.3f}, ε = {a.max_loss:g}"
        + (f", detector {math.exp(min(a.detector, 700.0)):.3g}" if a.detector is not None else "")
        + f"); calibration: {s.calibration_articles} articles ({s.calibration_requests} teacher requests)"
    )
    if fallback:
        # withheld is tonight's alone (the next night is judged afresh); a fallback is new or held
        state = "WITHHELD" if a.withheld else f"FALLBACK ({'new tonight' if fallback.new else 'held'})"
        line += f". {state}: {fallback.reason}"
        if not a.withheld:
            line += "; the teacher decided every chunk"
    return line


@describe.register(DistillSummary)
def _distill(s: DistillSummary) -> str:
    stages = [
        f"{name} → {info.model} ({info.steps} steps, last KD loss {_f(info.last_kd)}, "
        f"validation agreement with its teacher {_f(info.validation_agreement_with_teacher)})"
        for name, info in s.stages.items()
    ]
    return f"chain {s.chain}: trained " + "; ".join(stages)


@headline.register(DistillSummary)
def _distill_headline(s: DistillSummary) -> str:
    return f"{_n(len(s.stages), 'student')} trained"


@describe.register(EvaluateSummary)
def _evaluate(s: EvaluateSummary) -> str:
    return (
        f"{s.model} on {s.gold_chunks} gold chunks: accuracy {_f(s.accuracy)} against "
        f"{_f(s.teacher_accuracy)} for {s.teacher}; gate verdict {s.gate_verdict}; report {s.report}"
    ) + (f". {s.certificate}" if s.certificate else "")


@headline.register(EvaluateSummary)
def _evaluate_headline(s: EvaluateSummary) -> str:
    return f"accuracy {_f(s.accuracy)} (teacher {_f(s.teacher_accuracy)}), {_certified(s)}"


def _certified(s: EvaluateSummary) -> str:
    if s.certified_threshold is None:
        return "not certified"
    return f"certified at {s.certified_threshold:g} ({s.certified_offload:.0%} by the student)"


@describe.register(PromoteSummary)
def _promote(s: PromoteSummary) -> str:
    moved = s.production not in ("unchanged", s.previous_production)
    where = f"production is now {s.model}" if moved else "production unchanged"
    return (
        f"gate verdict {s.verdict}: {where}"
        + (" (forced)" if s.forced else "")
        + (f". {s.certificate}" if s.certificate else "")
    )


@headline.register(PromoteSummary)
def _promote_headline(s: PromoteSummary) -> str:
    return f"{s.verdict}, production {'unchanged' if s.production == 'unchanged' else s.production}"


@describe.register(StudySummary)
def _study(s: StudySummary) -> str:
    verdicts = list(s.claims.values())
    claims = (
        (
            f"; findings: {verdicts.count('reproduced')} reproduced, {verdicts.count('contradicted')} contradicted, "
            f"{verdicts.count('not resolved')} not resolved of {len(verdicts)}"
        )
        if verdicts
        else ""
    )
    return (
        f"{s.study}: {s.arms} arms × {s.seeds} seeds on {s.gold_chunks} gold chunks, {s.trained} trained and "
        f"{s.reused} reused{claims}; report {s.report}"
    )
