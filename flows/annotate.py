"""Flow `annotate`: chunks without a teacher's answer → soft labels in the silver store.

Idempotent and resumable: only texts without an answer from this annotator and prompt version
are sent, and every batch is stored as soon as it is answered, so a run killed at any moment
and started again re-sends only what was in flight.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from upscway.flows.context import FromProfile, Setup, run_context
from upscway.inputs import parse_day
from upscway.settings import TeacherBackend
from upscway.tasks.annotate.steps import IN_FLIGHT, Pending, annotate_pending


@flow(name="annotate", task_runner=ThreadPoolTaskRunner(max_workers=IN_FLIGHT + 1))
def annotate(
    teacher: TeacherBackend | None = None,
    only_unlabeled: bool = False,
    since: str | None = None,
    source: str | None = None,
    limit: int | None = None,
    profile: str | None = None,
    data_dir: str | None = None,
) -> State:
    """Annotate chunks with the profile's teacher (or `teacher`), `teacher.batch_size` at a time."""
    return annotate_on(FromProfile(profile, data_dir), teacher, only_unlabeled, since, source, limit)


def annotate_on(
    setup: Setup | FromProfile,
    teacher: TeacherBackend | None = None,
    only_unlabeled: bool = False,
    since: str | None = None,
    source: str | None = None,
    limit: int | None = None,
) -> State:
    """The `annotate` run on `setup` (flows/context.py)."""
    parse_day(since, "--since")
    params = {"teacher": teacher, "only_unlabeled": only_unlabeled, "since": since, "source": source, "limit": limit}
    with run_context("annotate", params, setup) as run:
        settings = (
            run.settings.teacher if teacher is None else run.settings.teacher.model_copy(update={"backend": teacher})
        )
        pending = Pending(source=source, since=since, limit=limit, only_unlabeled=only_unlabeled)
        summary = annotate_pending(run.store, run.run_id, settings, run.task_def, run.resources, pending)
        return run.finish(summary)
