"""What a finished flow did, in one plain sentence.

The same sentence goes to the run's log (so the Prefect UI tells the story), to the CLI's
line per step, and to the nightly summary artifact: a run is described once, here.
"""

from __future__ import annotations

from typing import Any

from upscway.records import RunStatus


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _f(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _pages(s: dict) -> str:
    return (
        f"{_n(s.get('new_urls', 0), 'new URL')}, {s.get('fetched', 0)} fetched: {_n(s.get('articles', 0), 'article')} and "
        f"{_n(s.get('chunks', 0), 'chunk')} stored, {_n(s.get('duplicates', 0), 'duplicate')}, "
        f"{_n(s.get('failures', 0), 'failure')}"
        + (f"; {s['not_urls']} of the URL list's lines not URLs (counted, their text not stored)" if s.get("not_urls") else "")
    )


def _annotate(s: dict) -> str:
    return f"{_n(s['annotated'], 'chunk')} annotated by {s['annotator']}, {_n(s['failures'], 'failure')}, cost {s['cost']:.4f}"


def _languages(s: dict) -> str:
    """The chunks in languages the students do not serve, and where they went."""
    other = s.get("other_languages")
    if not other:
        return ""
    where = "sent to the teacher" if other["route"] == "teacher" else "skipped (left untagged)"
    each = ", ".join(f"{code}: {n}" for code, n in other["languages"].items())
    return f"; {_n(other['chunks'], 'chunk')} in other languages ({each}) {where}"


def _tag(s: dict) -> str:
    if not s["chunks"]:
        return "nothing new to tag" + _languages(s)
    who = f"production model {s['production_model']}" if s["production_model"] else "no production model yet: the teacher decides"
    return (
        f"{_n(s['tagged'], 'chunk')} tagged, {s['offload_rate']:.0%} by the student ({who}); "
        f"{_n(s['teacher_requests'], 'teacher request')} made, {s['teacher_requests_saved']} saved "
        f"(about {s['estimated_cost_saved']:.4f} in cost)"
        + (f", threshold {s['confidence_threshold']:g}" if s.get("production_model") and s.get("confidence_threshold") is not None else "")
        + (f". WARNING: {(s.get('drift') or {})['warning']}" if (s.get("drift") or {}).get("warning") else "")
        + _languages(s) + _audit(s)
    )


def _audit(s: dict) -> str:
    """The night's audit and live bound, and a fallback, for a tag run with a production student."""
    a, fallback = s.get("audit"), s.get("fallback")
    if not a:
        return ""
    line = (f"; audit: {a['audited']} of {a['decided']} decided chunks ({a['audit_requests']} teacher requests), live loss "
            f"{_f(a['live_estimate'])} (bounds {a['live_lower']:.3f}–{a['live_upper']:.3f} at level {a['alpha']:.2g}, ε = {a['max_loss']:g})")
    if fallback:
        line += f". FALLBACK ({'new tonight' if fallback['new'] else 'held'}): {fallback['reason']}; the teacher decided every chunk"
    return line


def _distill(s: dict) -> str:
    stages = [
        f"{name} → {info['model']} ({info.get('steps')} steps, last KD loss {_f(info.get('last_kd'))}, "
        f"validation agreement with its teacher {_f(info.get('validation_agreement_with_teacher'))})"
        for name, info in s["stages"].items()
    ]
    return f"chain {s['chain']}: trained " + "; ".join(stages)


def _evaluate(s: dict) -> str:
    return (
        f"{s['model']} on {s['gold_chunks']} gold chunks: accuracy {_f(s['accuracy'])} against "
        f"{_f(s['teacher_accuracy'])} for {s['teacher']}; gate verdict {s['gate_verdict']}; report {s['report']}"
    ) + (f". {s['certificate']}" if s.get("certificate") else "")


def _promote(s: dict) -> str:
    moved = s["production"] not in ("unchanged", s.get("previous_production"))
    where = f"production is now {s['model']}" if moved else "production unchanged"
    return (f"gate verdict {s['verdict']}: {where}" + (" (forced)" if s.get("forced") else "")
            + (f". {s['certificate']}" if s.get("certificate") else ""))


def _study(s: dict) -> str:
    verdicts = list(s["claims"].values())
    claims = (f"; findings: {verdicts.count('reproduced')} reproduced, {verdicts.count('contradicted')} contradicted, "
              f"{verdicts.count('not resolved')} not resolved of {len(verdicts)}") if verdicts else ""
    return (f"{s['study']}: {s['arms']} arms × {s['seeds']} seeds on {s['gold_chunks']} gold chunks, {s['trained']} trained and "
            f"{s['reused']} reused{claims}; report {s['report']}")


_DESCRIBE = {
    "ingest": _pages, "backfill": _pages, "annotate": _annotate, "tag": _tag,
    "distill": _distill, "evaluate": _evaluate, "promote": _promote, "study": _study,
}


_HEADLINE = {
    "ingest": lambda s: f"{_n(s.get('articles', 0), 'article')}, {_n(s.get('chunks', 0), 'chunk')}",
    "tag": lambda s: f"{s['tagged']} tagged, {s['offload_rate']:.0%} by the student" + (", DRIFT" if (s.get("drift") or {}).get("warning") else "")
    + (", FALLBACK" if s.get("fallback") else "")
    + (f", {s['other_languages']['chunks']} in other languages" if s.get("other_languages") else ""),
    "distill": lambda s: f"{_n(len(s['stages']), 'student')} trained",
    "evaluate": lambda s: f"accuracy {_f(s['accuracy'])} (teacher {_f(s['teacher_accuracy'])}), {_certified(s)}",
    "promote": lambda s: f"{s['verdict']}, production {'unchanged' if s['production'] == 'unchanged' else s['production']}",
}


def _certified(s: dict) -> str:
    if s.get("certified_threshold") is None:
        return "not certified"
    return f"certified at {s['certified_threshold']:g} ({s['certified_offload']:.0%} by the student)"


def headline(flow: str, summary: dict[str, Any]) -> str:
    """The step's result in a few words, for a summary table (`describe` says it in full)."""
    if summary.get("status") in (RunStatus.SKIPPED, RunStatus.FAILED) or flow not in _HEADLINE:
        return describe(flow, summary)
    return _HEADLINE[flow](summary)


def describe(flow: str, summary: dict[str, Any]) -> str:
    """One sentence for a flow's summary; for a step that did not complete, why."""
    status = summary.get("status")
    if status == RunStatus.SKIPPED:
        return summary["reason"]
    if status == RunStatus.FAILED:
        return summary["error"]
    try:
        return _DESCRIBE[flow](summary)
    except KeyError:  # a summary without the usual counts (an unknown flow, an older row)
        return ", ".join(f"{k} {_f(v)}" for k, v in summary.items() if not isinstance(v, (dict, list)))
