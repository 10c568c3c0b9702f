"""Flow `tag`: the production student labels new chunks in batched forward passes; the chunks
it is unsure of (confidence below `cascade.confidence_threshold` when set, else the threshold
its cascade was certified at when it was promoted; or relevance inside
`cascade.relevance_band`) go to the teacher. Every chunk ends with a final label in `tags` and
who decided it. With no production model yet, the teacher decides everything. A night whose
student is sure of every chunk never builds (or loads) the teacher."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import State

from upscway import progress
from upscway.flows.context import run_context
from upscway.records import model_annotator
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.answers import answers_of, ensure_answers
from upscway.tasks.distill.scoring import score_with_student
from upscway.tasks.tag.routing import drift, final_tags, for_teacher, statistics
from upscway.tasks.tag.steps import mean_cost, store_tags, untagged_and_production


@flow(name="tag")
def tag(since: str | None = None, limit: int | None = None, profile: str | None = None, data_dir: str | None = None) -> State:
    with run_context("tag", {"since": since, "limit": limit}, profile, data_dir) as run:
        task_def, cascade, teacher = run.task_def, run.settings.cascade, run.settings.teacher
        chunks, model, threshold = untagged_and_production(run.store, task_def, since, limit, cascade.confidence_threshold)
        hashes = sorted({c.text_hash for c in chunks})
        student = {}
        if model and chunks:
            progress.report("tag: student", 0, len(chunks))
            student = score_with_student(run.store, model, task_def, hashes)
        unsure = for_teacher(hashes, student, threshold, cascade.relevance_band, task_def.not_relevant_index)
        teacher_id = annotator_of(teacher)
        requests = ensure_answers(run.store, run.run_id, teacher_id, sorted(unsure), teacher, task_def)
        answers = answers_of(run.store, teacher_id, task_def.version, hashes)
        moved = drift(student, model.metrics.get("validation_confidences", []), threshold, cascade.drift_tolerance) if model else None
        if moved and moved["warning"]:
            get_run_logger().warning(moved["warning"])
        tags = final_tags(chunks, student, answers, unsure, task_def.names, model_annotator(model.id) if model else None, teacher_id)
        store_tags(run.store, task_def.name, tags, run.run_id)
        return run.finish({
            "production_model": model.id if model else None, "confidence_threshold": threshold, "chunks": len(chunks),
            **statistics(tags, student, answers, requests, mean_cost(run.store, teacher_id)), "drift": moved,
        })
