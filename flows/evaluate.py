"""Flow `evaluate`: a candidate and its teacher on the SAME gold chunks (a paired comparison).

The gold split is the one the distill flow never trains on (`eval` articles, by the same hash
of the article id). Where the teacher has no stored answer for a gold chunk and is a model this
process can run (a registered student, or the profile's own teacher), it annotates those chunks
first; otherwise the run stops and says which teacher is missing what.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import State

from upscway.errors import InputError
from upscway.flows.annotate import annotate_pending
from upscway.flows.common import RunContext, begin_run, end_run, fail_run
from upscway.storage import evaluations as repo
from upscway.storage import models as registry
from upscway.tasks.annotate.steps import close_teachers, shared_teacher
from upscway.tasks.annotate.taxonomy import TaskDefinition, load_task
from upscway.tasks.distill.dataset import split_of
from upscway.tasks.distill.scoring import student_scorer
from upscway.tasks.evaluate.gate import decide, gate_support
from upscway.tasks.evaluate.paired import evaluate_pair
from upscway.tasks.evaluate.report import artifact_markdown, key_findings, write_report


def _fill_teacher(ctx: RunContext, teacher: str, task_def: TaskDefinition, missing: int) -> None:
    """Annotate the gold chunks the teacher has not answered, when this process can run it."""
    if teacher.startswith("model:"):
        with ctx.store.reader() as conn:
            found = registry.get(conn, teacher.split(":", 1)[1])
        if found is None:
            raise InputError(f"teacher {teacher} is not in the registry")
        local = Path(found["path"]) if found["kind"] == "encoder" else Path(found["path"]) / "merged"
        backend = "encoder" if found["kind"] == "encoder" else "transformers"
        annotate_pending(ctx, ctx.settings.teacher.model_copy(update={"backend": backend, "local_model": local, "annotator": teacher}), task_def)
        return
    if shared_teacher(task_def, ctx.settings.teacher).annotator_id == teacher:
        annotate_pending(ctx, ctx.settings.teacher, task_def)
        return
    raise InputError(
        f"teacher {teacher} has no stored answer for {missing} gold chunks and this profile's teacher is not it: "
        "annotate them with that teacher first (upscway run annotate)"
    )


@flow(name="evaluate")
def evaluate(
    model: str, gold_split: str = "eval", teacher: str | None = None, profile: str | None = None, data_dir: str | None = None
) -> State:
    """Score `model` and a teacher (default: the one it learnt from; `teacher` names another
    annotator, e.g. the chain's first teacher for a last-stage student) on the same gold."""
    ctx = begin_run("evaluate", profile, data_dir, {"model": model, "gold_split": gold_split, "teacher": teacher})
    try:
        with ctx.store.reader() as conn:
            row = registry.get(conn, model)
        if row is None:
            raise InputError(f"no model {model!r} in the registry")
        against = teacher or row["teacher"]
        task_def = load_task(ctx.settings.teacher.task_file)
        d = ctx.settings.distill
        with ctx.store.reader() as conn:
            chunks = [c for c in repo.gold_chunks(conn, task_def.name) if split_of(c[1], d.eval_fraction, d.validation_fraction) == gold_split]
        if not chunks:
            raise InputError(f"no gold chunks in split {gold_split!r}: import gold labels first (upscway gold import)")
        hashes = [c[3] for c in chunks]
        with ctx.store.reader() as conn:
            teacher = repo.teacher_probs(conn, against, row["prompt_version"], hashes)
        if len(teacher) < len(set(hashes)):
            _fill_teacher(ctx, against, task_def, len(set(hashes)) - len(teacher))
            with ctx.store.reader() as conn:
                teacher = repo.teacher_probs(conn, against, row["prompt_version"], hashes)
            still = len(set(hashes)) - len(teacher)
            if still:
                raise InputError(
                    f"teacher {against} could not answer {still} gold chunks (unreachable?); see the failures table"
                )
        scorer = student_scorer(row, task_def)
        started = time.perf_counter()
        student = [a.probs for a in scorer.annotate([c[2] for c in chunks])]
        seconds = time.perf_counter() - started
        result = evaluate_pair(student, [teacher[h] for h in hashes], [task_def.index(c[4]) for c in chunks], len(task_def.labels))
        path = Path(row["path"])
        result["student"].update({
            "latency_ms_per_chunk": 1000 * seconds / len(chunks), "chunks_per_s": len(chunks) / seconds,
            "parameters": sum(p.numel() for p in scorer.model.parameters()),
            "size_on_disk_mb": round(sum(f.stat().st_size for f in path.glob("*") if f.is_file()) / 1e6, 2),
        })
        evaluation_id = uuid.uuid4().hex[:12]
        with ctx.store.transaction() as conn:
            repo.insert(conn, evaluation_id, model, against, gold_split, result, ctx.run_id)
        decision = decide(result["student"], result["teacher"]["accuracy"], gate_support(result), ctx.settings.gate)
        report = write_report(
            ctx.layout.reports / evaluation_id, title=f"Evaluation {evaluation_id}: {model}", model=row, teacher=against,
            names=task_def.names, result=result, student_probs=student, teacher_probs=[teacher[h] for h in hashes],
            gold=[task_def.index(c[4]) for c in chunks], decision=decision,
        )
        create_markdown_artifact(artifact_markdown(report), key=f"evaluation-{evaluation_id}", description=f"evaluation of {model}")
        create_table_artifact(key_findings(result), description=f"key findings, {model} vs {against}")
    except BaseException as exc:
        fail_run(ctx, exc)
        raise
    finally:
        close_teachers()
    s, t, p = result["student"], result["teacher"], result["paired"]
    return end_run(ctx, {
        "evaluation": evaluation_id, "model": model, "teacher": against, "gold_chunks": p["n"],
        "accuracy": s["accuracy"], "teacher_accuracy": t["accuracy"], "relevance_accuracy": s["relevance_accuracy"],
        "precision": s["precision"], "recall": s["recall"], "gs_accuracy": s["gs_accuracy"],
        "agreement_with_teacher": p["agreement_top1"], "mcnemar_p": p["mcnemar"]["p_value"],
        "gate_verdict": decision.verdict, "report": str(report["markdown"]),
    })
