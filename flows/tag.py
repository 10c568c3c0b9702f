"""Flow `tag`: the production student labels new chunks in batched forward passes; the chunks
it is unsure of (confidence below `cascade.confidence_threshold` when set, else the threshold
its cascade was certified at when it was promoted; or relevance inside
`cascade.relevance_band`) go to the teacher. Every chunk ends with a final label in `tags` and
who decided it. With no production model yet, the teacher decides everything. A night whose
student is sure of every chunk (and audits none) never builds (or loads) the teacher.

With a production student, a uniform share `cascade.audit_rate` of the chunks it decided is
answered by the teacher too (`tasks/tag/audit.py`), and tonight's live bound is judged before
tonight's tags are stored: when it shows the certificate broken, or the drift alarm passes its
hard limit, the teacher decides every chunk tonight, a fallback is recorded, and later nights do
not offload until a new student is promoted or the fallback is cleared by hand (`upscway models
clear-fallback`). Such a run ends in a Completed state named `Fallback`.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import Completed, State

from upscway import progress
from upscway.flows.context import FALLBACK, run_context
from upscway.records import model_annotator
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.answers import answers_of, ensure_answers
from upscway.tasks.distill.scoring import score_with_student
from upscway.tasks.tag.audit import audit_sample, judge_night
from upscway.tasks.tag.live_report import publish_live_bound
from upscway.tasks.tag.routing import drift, final_tags, for_teacher, statistics
from upscway.tasks.tag.steps import fallback_and_night, mean_cost, store_tags, untagged_and_production


@flow(name="tag")
def tag(since: str | None = None, limit: int | None = None, profile: str | None = None, data_dir: str | None = None) -> State:
    with run_context("tag", {"since": since, "limit": limit}, profile, data_dir) as run:
        task_def, cascade, teacher = run.task_def, run.settings.cascade, run.settings.teacher
        chunks, model, threshold = untagged_and_production(run.store, task_def, since, limit, cascade.confidence_threshold)
        holding, night = fallback_and_night(run.store, model)
        hashes = sorted({c.text_hash for c in chunks})
        student = {}
        if model and chunks:
            progress.report("tag: student", 0, len(chunks))
            student = score_with_student(run.store, model, task_def, hashes)
        unsure = for_teacher(hashes, student, threshold, cascade.relevance_band, task_def.not_relevant_index)
        decided = sorted(set(hashes) - unsure)
        audited = set() if holding else audit_sample(decided, cascade.audit_rate, run.run_id)
        teacher_id, ask = annotator_of(teacher), lambda which: ensure_answers(run.store, run.run_id, teacher_id, sorted(which), teacher, task_def)
        requests, audit_requests = ask(unsure), ask(audited)
        answers = answers_of(run.store, teacher_id, task_def.version, hashes)
        moved = drift(student, model.metrics.get("validation_confidences", []), threshold, cascade.drift_tolerance) if model else None
        if moved and moved["warning"]:
            get_run_logger().warning(moved["warning"])
        judged = judge_night(night, chunks, student, answers, decided, audited, task_def.names, cascade, moved, holding is not None) \
            if student else None
        if judged and judged.fallback:  # tonight the teacher decides every chunk
            get_run_logger().warning("fallback: %s", judged.broken or f"held since {holding.since}: {holding.reason}")
            unsure = set(hashes)
            requests += ask(set(decided) - audited)
            answers = answers_of(run.store, teacher_id, task_def.version, hashes)
        tags = final_tags(chunks, student, answers, unsure, task_def.names, model_annotator(model.id) if model else None, teacher_id)
        figures = judged.figures(requests, audit_requests) if judged else None
        store_tags(run.store, task_def.name, tags, run.run_id, model.id if model else None, judged, figures)
        if judged:
            publish_live_bound(run.store)
        summary = run.finish({
            "production_model": model.id if model else None, "confidence_threshold": threshold, "chunks": len(chunks),
            **statistics(tags, student, answers, requests + audit_requests, mean_cost(run.store, teacher_id),
                         audited=0 if judged is None or judged.fallback else judged.live.audited),
            "drift": moved,
            "audit": figures, "fallback": None if not (judged and judged.fallback) else
            {"new": judged.broken is not None, "reason": judged.broken or holding.reason},
        })
        if judged and judged.fallback:
            return Completed(name=FALLBACK, message=f"the cascade did not offload: {summary.data['fallback']['reason']}", data=summary.data)
        return summary
