"""Flow `annotate`: chunks without a teacher's answer → soft labels in the silver store.

Idempotent and resumable: only texts without an answer from this annotator and prompt version
are sent, and every batch is stored as soon as it is answered, so a run killed at any moment
and started again re-sends only what was in flight.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from upscway.flows.context import run_context
from upscway.inputs import parse_day
from upscway.tasks.annotate.steps import IN_FLIGHT, annotate_pending


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
    parse_day(since, "--since")
    params = {"teacher": teacher, "only_unlabeled": only_unlabeled, "since": since, "source": source, "limit": limit}
    with run_context("annotate", params, profile, data_dir) as run:
        settings = run.settings.teacher if teacher is None else run.settings.teacher.model_copy(update={"backend": teacher})
        summary = annotate_pending(
            run.store, run.run_id, settings, run.task_def,
            source=source, since=since, limit=limit, only_unlabeled=only_unlabeled,
        )
        return run.finish(summary)
