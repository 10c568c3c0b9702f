"""Flow `annotate`: chunks without a teacher's answer → soft labels in the silver store.

Idempotent and resumable: only texts without an answer from this annotator and prompt version
are sent, and every batch is stored as soon as it is answered, so a run killed at any moment
and started again re-sends only what was in flight.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from upscway import progress
from upscway.flows.common import RunContext, begin_run, end_run, fail_run
from upscway.settings import TeacherSettings
from upscway.storage import annotations as repo
from upscway.tasks.annotate.steps import BatchCounts, annotate_batch, close_teachers, plan_annotation, shared_teacher
from upscway.tasks.annotate.taxonomy import TaskDefinition, load_task

IN_FLIGHT = 2  # batches: the next one is being answered while the last is stored


def annotate_pending(
    ctx: RunContext,
    settings: TeacherSettings,
    task_def: TaskDefinition,
    *,
    source: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    only_unlabeled: bool = False,
    hashes: list[str] | None = None,
) -> dict:
    """Annotate what this teacher has not answered yet (or exactly `hashes`),
    `settings.batch_size` per task; return a summary. Used by this flow, by `distill` (a student
    relabelling for the next stage) and by `tag` (the chunks the student is unsure of)."""
    annotator = shared_teacher(task_def, settings).annotator_id
    if hashes is None:
        hashes = plan_annotation(ctx.store, annotator, task_def.version, source, since, limit, only_unlabeled)
    size = settings.batch_size
    pending = [hashes[i : i + size] for i in range(0, len(hashes), size)]
    artifact = create_progress_artifact(0.0, description=f"annotate {len(hashes)} chunks with {annotator}")
    total, done = BatchCounts(), 0
    in_flight: dict[PrefectFuture, int] = {}
    progress.report("annotate", 0, len(hashes))
    while pending or in_flight:
        while pending and len(in_flight) < IN_FLIGHT:
            batch = pending.pop(0)
            in_flight[annotate_batch.submit(ctx.store, ctx.run_id, task_def, settings, batch)] = len(batch)
        finished = next(as_completed(list(in_flight)))
        done += in_flight.pop(finished)
        total.add(finished.result())
        update_progress_artifact(artifact, 100.0 * done / max(1, len(hashes)))
        progress.report("annotate", done, len(hashes))
    with ctx.store.reader() as conn:
        by_label = [row for row in repo.run_summary(conn, ctx.run_id)]
    create_markdown_artifact(_summary_markdown(annotator, task_def.version, by_label, total), description="annotation summary")
    summary = {"annotator": annotator, "prompt_version": task_def.version, "to_annotate": len(hashes), **asdict(total)}
    summary["cost"] = round(summary["cost"], 6)
    summary["labels"] = {label: n for label, n, *_ in by_label}
    return summary


@flow(name="annotate", task_runner=ThreadPoolTaskRunner(max_workers=IN_FLIGHT + 1))
def annotate(
    teacher: Literal["openai", "transformers", "embedding", "encoder"] | None = None,
    only_unlabeled: bool = False,
    since: str | None = None,
    source: str | None = None,
    limit: int | None = None,
    profile: str | None = None,
    data_dir: str | None = None,
) -> State:
    """Annotate chunks with the profile's teacher (or `teacher`), `teacher.batch_size` at a time."""
    params = {"teacher": teacher, "only_unlabeled": only_unlabeled, "since": since, "source": source, "limit": limit}
    ctx = begin_run("annotate", profile, data_dir, params)
    try:
        settings = ctx.settings.teacher if teacher is None else ctx.settings.teacher.model_copy(update={"backend": teacher})
        summary = annotate_pending(
            ctx, settings, load_task(settings.task_file), source=source, since=since, limit=limit, only_unlabeled=only_unlabeled
        )
    except BaseException as exc:
        fail_run(ctx, exc)
        raise
    finally:
        close_teachers()
    return end_run(ctx, summary)


def _summary_markdown(annotator: str, version: str, by_label: list[tuple], total: BatchCounts) -> str:
    rows = "\n".join(f"| {label} | {n} |" for label, n, *_ in by_label)
    return (
        f"## Annotation with `{annotator}` (prompt {version})\n\n| label | chunks |\n|---|---|\n{rows}\n\n"
        f"Stored {total.annotated}, failed {total.failures}; tokens in {total.tokens_in}, out {total.tokens_out}; "
        f"cost {total.cost:.4f}.\n"
    )
