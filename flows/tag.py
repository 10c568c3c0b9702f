"""Flow `tag`: the production student labels new chunks in batched forward passes; the chunks
it is unsure of (confidence below `cascade.confidence_threshold` when set, else the threshold
its cascade was validated at on gold when it was promoted; or relevance inside
`cascade.relevance_band`) go to the teacher. Every chunk ends with a final label in `tags` and
who decided it. With no production model yet, the teacher decides everything."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import State

from upscway import progress
from upscway.flows.context import run_context
from upscway.tasks.annotate.taxonomy import load_task
from upscway.tasks.cascade import drift, final_tags, for_teacher, statistics
from upscway.tasks.distill.scoring import score_with_student
from upscway.tasks.tagging import store_tags, teacher_answers, untagged_and_production


@flow(name="tag")
def tag(since: str | None = None, limit: int | None = None, profile: str | None = None, data_dir: str | None = None) -> State:
    with run_context("tag", {"since": since, "limit": limit}, profile, data_dir) as run:
        task_def, cascade = load_task(run.settings.teacher.task_file), run.settings.cascade
        chunks, model, threshold = untagged_and_production(run.store, task_def, since, limit, cascade.confidence_threshold)
        hashes = sorted({c.text_hash for c in chunks})
        student = {}
        if model and chunks:
            progress.report("tag: student", 0, len(chunks))
            student = score_with_student(run.store, model, task_def, hashes)
        unsure = for_teacher(hashes, student, threshold, cascade.relevance_band)
        teacher_id, teacher, requests, cost = teacher_answers(run.store, run.run_id, run.settings.teacher, task_def, unsure, hashes)
        moved = drift(student, model.metrics.get("validation_confidences", []), threshold, cascade.drift_tolerance) if model else None
        if moved and moved["warning"]:
            get_run_logger().warning(moved["warning"])
        student_id = f"model:{model.id}" if model else None
        tags = final_tags(chunks, student, teacher, unsure, task_def.names, student_id, teacher_id)
        store_tags(run.store, task_def.name, tags, run.run_id)
        return run.finish({
            "production_model": model.id if model else None, "confidence_threshold": threshold, "chunks": len(chunks),
            **statistics(tags, student, teacher, requests, cost), "drift": moved,
        })
