"""The task runner of the flows that fan out batches (ingest, backfill, annotate).

`runner.kind = "threads"` (default) keeps each flow's own bounded thread pool. `"dask"` sends
its batches to a Dask cluster through prefect-dask: the one at `runner.dask_address`, or a
local cluster of `runner.dask_workers` worker processes started for the run. Tasks receive
paths, ids and settings (all picklable), open the DuckDB file themselves for short transactions
and stage scraped pages as files, so workers on other machines need the data directory on a
shared filesystem.
"""

from __future__ import annotations

from prefect import Flow

from upscway.settings import RunnerSettings


def with_runner(flow_obj: Flow, settings: RunnerSettings) -> Flow:
    """`flow_obj` set to run its tasks on the configured runner."""
    if settings.kind == "threads":
        return flow_obj
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        runner = DaskTaskRunner(address=settings.dask_address)
    else:
        runner = DaskTaskRunner(cluster_kwargs={
            "n_workers": settings.dask_workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
        })
    return flow_obj.with_options(task_runner=runner)
