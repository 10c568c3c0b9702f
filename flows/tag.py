"""Flow `tag`: the production student labels new chunks in batched forward passes; the chunks
it is unsure of (confidence below `cascade.confidence_threshold`, or relevance inside
`cascade.relevance_band`) go to the teacher. Every chunk ends with a final label in `tags` and
who decided it. With no production model yet, the teacher decides everything."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from upscway import progress
from upscway.flows.annotate import annotate_pending
from upscway.flows.common import begin_run, end_run, fail_run
from upscway.storage import evaluations as evaluation_repo
from upscway.storage import models as registry
from upscway.storage import tags as repo
from upscway.tasks.annotate.steps import close_teachers, shared_teacher
from upscway.tasks.annotate.taxonomy import load_task
from upscway.tasks.cascade import is_uncertain
from upscway.tasks.distill.scoring import score_with_student
from upscway.tasks.limits import writer_slot

PRODUCTION = "production"


@flow(name="tag")
def tag(since: str | None = None, limit: int | None = None, profile: str | None = None, data_dir: str | None = None) -> State:
    ctx = begin_run("tag", profile, data_dir, {"since": since, "limit": limit})
    try:
        task_def = load_task(ctx.settings.teacher.task_file)
        cascade = ctx.settings.cascade
        with ctx.store.reader() as conn:
            chunks = repo.untagged(conn, task_def.name, since, limit)
            model_id = registry.holder(conn, PRODUCTION)
            model = registry.get(conn, model_id) if model_id else None
        student: dict[str, list[float]] = {}
        if model and chunks:
            progress.report("tag: student", 0, len(chunks))
            student = score_with_student(ctx.store, model, task_def, sorted({c[1] for c in chunks}))
            progress.report("tag: student", len(chunks), len(chunks))
        uncertain = [c for c in chunks if c[1] not in student or is_uncertain(student[c[1]], cascade.confidence_threshold, cascade.relevance_band)]
        teacher_id = shared_teacher(task_def, ctx.settings.teacher).annotator_id
        with ctx.store.reader() as conn:
            answered = evaluation_repo.teacher_probs(conn, teacher_id, task_def.version, [c[1] for c in uncertain])
        to_ask = sorted({c[1] for c in uncertain} - set(answered))
        if to_ask:
            annotate_pending(ctx, ctx.settings.teacher, task_def, hashes=to_ask)
        with ctx.store.reader() as conn:
            teacher = evaluation_repo.teacher_probs(conn, teacher_id, task_def.version, [c[1] for c in chunks])
            cost_per_answer = repo.mean_cost(conn, teacher_id)
        rows, uncertain_ids = [], {c[0] for c in uncertain}
        for chunk_id, text_hash in chunks:
            if chunk_id in uncertain_ids:
                if text_hash not in teacher:
                    continue  # the teacher failed on it (see failures); tagged on a later run
                probs, decided_by, annotator = teacher[text_hash], "teacher", teacher_id
            else:
                probs, decided_by, annotator = student[text_hash], "student", f"model:{model_id}"
            best = max(range(len(probs)), key=probs.__getitem__)
            rows.append({"chunk_id": chunk_id, "text_hash": text_hash, "label": task_def.names[best], "probs": probs,
                         "confidence": probs[best], "decided_by": decided_by, "annotator": annotator})
        with writer_slot(), ctx.store.transaction() as conn:
            repo.insert(conn, task_def.name, rows, ctx.run_id)
        by_student = sum(r["decided_by"] == "student" for r in rows)
        both = [h for h in student if h in teacher]
        agree = sum(max(range(5), key=student[h].__getitem__) == max(range(5), key=teacher[h].__getitem__) for h in both)
    except BaseException as exc:
        fail_run(ctx, exc)
        raise
    finally:
        close_teachers()
    return end_run(ctx, {
        "production_model": model_id, "chunks": len(chunks), "tagged": len(rows), "by_student": by_student,
        "by_teacher": len(rows) - by_student, "offload_rate": by_student / len(rows) if rows else 0.0,
        "teacher_requests": len(to_ask), "teacher_requests_saved": by_student,
        "estimated_cost_saved": round(by_student * cost_per_answer, 6),
        "agreement_on_both_labelled": agree / len(both) if both else None, "both_labelled": len(both),
    })
