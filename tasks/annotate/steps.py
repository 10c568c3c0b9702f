"""The annotate stage as Prefect tasks: plan what still needs an answer, then annotate and
store one batch per task. Tasks pass text hashes and counts; texts are read from the store."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from prefect import get_run_logger, task

from upscway.errors import InputError
from upscway.settings import TeacherSettings
from upscway.storage import annotations as repo
from upscway.storage.runs import Failure, record_failures
from upscway.storage.store import Store
from upscway.tasks.annotate.taxonomy import TaskDefinition
from upscway.tasks.annotate.teacher import Teacher, TeacherFailure, make_teacher
from upscway.tasks.limits import teacher_slots, writer_slot

_TEACHERS: dict[str, Teacher] = {}
_LOCK = threading.Lock()


def resolve_api_key(settings: TeacherSettings) -> str | None:
    """The key from the environment variable `api_key_env`, else from the Prefect Secret block
    `api_key_secret`. It is returned to the caller only; nothing here logs or stores it."""
    key = os.environ.get(settings.api_key_env)
    if key:
        return key
    if settings.api_key_secret:
        from prefect.blocks.system import Secret

        try:
            return Secret.load(settings.api_key_secret).get()
        except ValueError:
            raise InputError(f"no Prefect Secret block named {settings.api_key_secret!r}") from None
    return None


def shared_teacher(task_def: TaskDefinition, settings: TeacherSettings) -> Teacher:
    """One teacher per settings in this process: a model is loaded once, a client's connection
    pool is shared by every batch."""
    key = f"{task_def.version}:{settings.model_dump_json()}"
    with _LOCK:
        if key not in _TEACHERS:
            _TEACHERS[key] = make_teacher(task_def, settings, resolve_api_key(settings) if settings.backend == "openai" else None)
        return _TEACHERS[key]


def close_teachers() -> None:
    with _LOCK:
        for teacher in _TEACHERS.values():
            teacher.close()
        _TEACHERS.clear()


@dataclass
class BatchCounts:
    annotated: int = 0
    failures: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0

    def add(self, other: "BatchCounts") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@task(name="plan-annotation")
def plan_annotation(
    store: Store, annotator: str, version: str, source: str | None, since: str | None, limit: int | None, only_unlabeled: bool
) -> list[str]:
    with store.reader() as conn:
        rows = repo.pending(conn, annotator, version, source=source, since=since, limit=limit, only_unlabeled=only_unlabeled)
    get_run_logger().info("%d chunk texts to annotate with %s (prompt %s)", len(rows), annotator, version)
    return [text_hash for text_hash, _ in rows]


@task(name="annotate-batch", retries=1, retry_delay_seconds=5)
def annotate_batch(store: Store, run_id: str, task_def: TaskDefinition, settings: TeacherSettings, hashes: list[str]) -> BatchCounts:
    """Ask the teacher about a batch and store every answer and failure in one transaction."""
    teacher = shared_teacher(task_def, settings)
    with store.reader() as conn:
        texts = repo.texts(conn, hashes)
    hashes = [h for h in hashes if h in texts]
    network_requests = min(len(hashes), settings.concurrency) if settings.backend == "openai" else 0
    with teacher_slots(network_requests):
        answers = teacher.annotate([texts[h] for h in hashes])
    rows, failures = [], []
    for text_hash, answer in zip(hashes, answers):
        if isinstance(answer, TeacherFailure):
            failures.append(Failure("annotate", f"text_hash:{text_hash}", answer.reason))
            continue
        rows.append(
            repo.AnswerRow(
                text_hash=text_hash, label=task_def.names[answer.label], label_index=answer.label, probs=answer.probs,
                confidence=answer.confidence, off_label_mass=answer.off_label_mass, rationale=answer.rationale,
                tokens_in=answer.tokens_in, tokens_out=answer.tokens_out, cost=answer.cost, latency_ms=answer.latency_s * 1000,
            )
        )
    with writer_slot(), store.transaction() as conn:
        stored = repo.insert(conn, rows, teacher.annotator_id, task_def.name, task_def.version, run_id)
        record_failures(conn, run_id, failures)
    return BatchCounts(
        annotated=stored, failures=len(failures), tokens_in=sum(r.tokens_in for r in rows),
        tokens_out=sum(r.tokens_out for r in rows), cost=sum(r.cost for r in rows),
    )
