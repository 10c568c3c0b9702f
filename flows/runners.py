"""The task runner of the flows that fan out batches (ingest, backfill, annotate, tag) or
training arms (study).

`runner.kind = "threads"` (default) keeps each flow's own bounded thread pool. `"dask"` sends
its batches to a Dask cluster through prefect-dask: the one at `runner.dask_address`, or a
local cluster of `runner.dask_workers` worker processes started for the run. Tasks receive
paths, ids and settings (all picklable), open the DuckDB file themselves for short transactions
and stage scraped pages as files, so workers on other machines need the data directory on a
shared filesystem.

The choice is made in one place, when a flow's run context opens (`configured_runner`), not
by whoever starts the flow: a run started by the CLI, by the nightly flow, or by a served
deployment (whose process loads the flow from its entrypoint, so options set on the flow
object by its caller would be lost) runs its tasks on the same runner.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.context import FlowRunContext

from upscway.settings import RunnerSettings

FANS_OUT = frozenset({"ingest", "backfill", "annotate", "tag", "study"})


def dask_runner(settings: RunnerSettings):
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )


@contextmanager
def configured_runner(flow: str, settings: RunnerSettings) -> Iterator[None]:
    """Inside a flow run: its tasks submitted within the block run on the configured runner
    (the flow's own thread pool for `threads`, or a flow that does not fan out)."""
    context = FlowRunContext.get()
    if settings.kind == "threads" or flow not in FANS_OUT or context is None:
        yield
        return
    with dask_runner(settings) as runner, context.model_copy(update={"task_runner": runner}):
        yield
