"""The annotate stage: plan what still needs an answer, then annotate and store one batch per
Prefect task, two batches in flight. Tasks pass text hashes and counts; texts are read from
the store. Used by the annotate flow, by distill (a student relabelling for the next stage),
by evaluate (gold chunks a teacher has not answered) and by tag (what the student is unsure of).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.futures import PrefectFuture

from upscway import progress
from upscway.records import Counts, Failure
from upscway.settings import TeacherSettings
from upscway.storage import annotations as annotation_rows
from upscway.storage.runs import record_failures
from upscway.storage.store import Store
from upscway.summaries import AnnotateSummary
from upscway.tasks.annotate.teacher import Answer, TeacherFailure, Teachers
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.fan_out import fan_out
from upscway.tasks.limits import teacher_slots, writer_slot
from upscway.taxonomy import TaskDefinition


@dataclass
class BatchCounts(Counts):
    annotated: int = 0
    failures: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0


@task(name="plan-annotation")
def plan_annotation(
    store: Store,
    annotator: str,
    version: str,
    source: str | None,
    since: str | None,
    limit: int | None,
    only_unlabeled: bool,
) -> list[str]:
    with store.reader() as conn:
        hashes = annotation_rows.pending(
            conn, annotator, version, source=source, since=since, limit=limit, only_unlabeled=only_unlabeled
        )
    get_run_logger().info("%d chunk texts to annotate with %s (prompt %s)", len(hashes), annotator, version)
    return hashes


@task(name="annotate-batch", retries=1, retry_delay_seconds=5)
def annotate_batch(
    store: Store,
    run_id: str,
    task_def: TaskDefinition,
    settings: TeacherSettings,
    hashes: list[str],
    resources: Teachers,
) -> BatchCounts:
    """Ask the teacher (the one `resources` shares) about a batch and store every answer and
    failure in one transaction."""
    teacher = resources.teacher(task_def, settings)
    with store.reader() as conn:
        texts = annotation_rows.texts(conn, hashes)
    hashes = [h for h in hashes if h in texts]
    network_requests = min(len(hashes), settings.concurrency) if settings.backend == "openai" else 0
    with teacher_slots(network_requests):
        answers = teacher.annotate([texts[h] for h in hashes])
    rows, failures = [], []
    for text_hash, answer in zip(hashes, answers):
        row = _answer_row(text_hash, answer, task_def)
        if isinstance(row, Failure):
            failures.append(row)
        else:
            rows.append(row)
    with writer_slot(), store.transaction() as conn:
        stored = annotation_rows.insert(conn, rows, teacher.annotator_id, task_def.name, task_def.version, run_id)
        record_failures(conn, run_id, failures)
    return BatchCounts(
        annotated=stored,
        failures=len(failures),
        tokens_in=sum(r.tokens_in for r in rows),
        tokens_out=sum(r.tokens_out for r in rows),
        cost=sum(r.cost for r in rows),
    )


def _answer_row(text_hash: str, answer: Answer, task_def: TaskDefinition) -> annotation_rows.AnswerRow | Failure:
    """The row to store for one chunk's answer, or that chunk's failure: a teacher's failure, or
    an answer that cannot be stored (numbers that are not finite, a label the task lacks).
    Whatever is wrong with one answer never fails the batch."""
    if isinstance(answer, TeacherFailure):
        return Failure("annotate", f"text_hash:{text_hash}", answer.reason)
    try:
        return annotation_rows.AnswerRow(
            text_hash=text_hash,
            label=task_def.names[answer.label],
            label_index=answer.label,
            probs=answer.probs,
            confidence=answer.confidence,
            off_label_mass=answer.off_label_mass,
            rationale=answer.rationale,
            tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out,
            cost=answer.cost,
            latency_ms=answer.latency_s * 1000,
        )
    except Exception as exc:  # any answer, however broken, is one chunk's failure
        return Failure("annotate", f"text_hash:{text_hash}", f"answer not stored: {type(exc).__name__}: {exc}")


IN_FLIGHT = 2  # batches: the next one is being answered while the last is stored


@dataclass(frozen=True)
class Pending:
    """Which chunk texts to annotate: those the teacher has not answered yet (only of `source`,
    of articles since a day, at most `limit`, with `only_unlabeled` only texts no annotator has
    answered), or exactly `hashes`."""

    source: str | None = None
    since: str | None = None
    limit: int | None = None
    only_unlabeled: bool = False
    hashes: list[str] | None = None


def annotate_pending(
    store: Store,
    run_id: str,
    settings: TeacherSettings,
    task_def: TaskDefinition,
    resources: Teachers,
    pending: Pending = Pending(),
) -> AnnotateSummary:
    """Annotate what `pending` selects, `settings.batch_size` per task; return a summary. Used
    by this flow, by `distill` (a student relabelling for the next stage) and by `tag` (the
    chunks the student is unsure of)."""
    source, since, limit, only_unlabeled, hashes = (
        pending.source,
        pending.since,
        pending.limit,
        pending.only_unlabeled,
        pending.hashes,
    )
    annotator = annotator_of(settings)
    if hashes is None:
        hashes = plan_annotation(store, annotator, task_def.version, source, since, limit, only_unlabeled)
    size = settings.batch_size
    batches = [hashes[i : i + size] for i in range(0, len(hashes), size)]
    artifact = create_progress_artifact(0.0, description=f"annotate {len(hashes)} chunks with {annotator}")
    total, done = BatchCounts(), 0
    progress.report("annotate", 0, len(hashes))

    def annotate(batch: list[str]) -> PrefectFuture:
        return annotate_batch.submit(store, run_id, task_def, settings, batch, resources)

    for batch, finished in fan_out(batches, annotate, IN_FLIGHT):
        done += len(batch)
        total.add(finished.result())
        update_progress_artifact(artifact, 100.0 * done / max(1, len(hashes)))
        progress.report("annotate", done, len(hashes))
    with store.reader() as conn:
        by_label = annotation_rows.run_summary(conn, run_id)
    create_markdown_artifact(
        _summary_markdown(annotator, task_def.version, by_label, total), description="annotation summary"
    )
    counts = {**asdict(total), "cost": round(total.cost, 6)}
    labels = {row.label: row.chunks for row in by_label}
    return AnnotateSummary(
        annotator=annotator, prompt_version=task_def.version, to_annotate=len(hashes), **counts, labels=labels
    )


def _summary_markdown(
    annotator: str, version: str, by_label: list[annotation_rows.LabelCount], total: BatchCounts
) -> str:
    rows = "\n".join(f"| {row.label} | {row.chunks} |" for row in by_label)
    return (
        f"## Annotation with `{annotator}` (prompt {version})\n\n| label | chunks |\n|---|---|\n{rows}\n\n"
        f"Stored {total.annotated}, failed {total.failures}; tokens in {total.tokens_in}, out {total.tokens_out}; "
        f"cost {total.cost:.4f}.\n"
    )
