"""What every flow does around its work: settings, the store, run bookkeeping, final state."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from prefect import get_run_logger
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.states import Completed, State

from upscway.settings import Settings, load_settings
from upscway.storage import runs
from upscway.storage.articles import LoadCounts
from upscway.storage.layout import DataLayout
from upscway.storage.migrations import migrate
from upscway.storage.runs import Failure
from upscway.storage.store import Store
from upscway.tasks.scrape.pages import PageRequest
from upscway.tasks.scrape.steps import ingest_pages

LOGGER = logging.getLogger(__name__)

COMPLETED_WITH_FAILURES = "CompletedWithFailures"


@dataclass
class RunContext:
    run_id: str
    flow: str
    settings: Settings
    store: Store
    layout: DataLayout


def open_store(settings: Settings) -> Store:
    """The configured store, migrated to the current schema."""
    store = Store(settings.database_path, lock_timeout_s=settings.storage.lock_timeout_s)
    migrate(store)
    return store


def begin_run(flow: str, profile: str | None, data_dir: str | None, parameters: dict[str, Any]) -> RunContext:
    settings = load_settings(profile, data_dir)
    store = open_store(settings)
    run_id = flow_run.id or str(uuid.uuid4())
    with store.transaction() as conn:
        runs.start_run(conn, run_id, flow, {**parameters, "profile": settings.profile})
    return RunContext(run_id, flow, settings, store, DataLayout(settings.data_dir))


def fail_run(ctx: RunContext, error: BaseException) -> None:
    with ctx.store.transaction() as conn:
        runs.finish_run(conn, ctx.run_id, "failed", {"error": f"{type(error).__name__}: {error}"})


def end_run(ctx: RunContext, summary: dict[str, Any]) -> State:
    """Record the outcome; the state is named `CompletedWithFailures` when any item failed."""
    with ctx.store.transaction() as conn:
        summary["failures"] = runs.count_failures(conn, ctx.run_id)
        summary["run_id"] = ctx.run_id
        status = "completed_with_failures" if summary["failures"] else "completed"
        runs.finish_run(conn, ctx.run_id, status, summary)
    get_run_logger().info("%s finished: %s", ctx.flow, summary)
    if summary["failures"]:
        return Completed(
            name=COMPLETED_WITH_FAILURES,
            message=f"{summary['failures']} item(s) failed; see the failures table for run {ctx.run_id}",
            data=summary,
        )
    return Completed(data=summary)


def store_pages(ctx: RunContext, requests: list[PageRequest]) -> LoadCounts:
    """Ingest pages in batches of `ingest.batch_size`, one Prefect task per batch, at most
    `ingest.workers` batches at a time (extraction is CPU-bound: more only adds contention).

    A batch that fails even after its retries is recorded as a failure (its staged files stay
    under the run's staging folder) and the others carry on.
    """
    size = ctx.settings.ingest.batch_size
    pending = [requests[i : i + size] for i in range(0, len(requests), size)]
    in_flight: dict[PrefectFuture, list[PageRequest]] = {}
    total = LoadCounts()
    lost: list[Failure] = []
    while pending or in_flight:
        while pending and len(in_flight) < ctx.settings.ingest.workers:
            batch = pending.pop(0)
            future = ingest_pages.submit(ctx.store, ctx.layout, ctx.run_id, batch, ctx.settings.ingest, ctx.settings.chunk)
            in_flight[future] = batch
        done = next(as_completed(list(in_flight)))
        batch = in_flight.pop(done)
        try:
            total.add(done.result())
        except Exception as exc:
            lost.append(Failure("batch", f"{len(batch)} pages from {batch[0].url}", f"{type(exc).__name__}: {exc}"))
    if lost:
        with ctx.store.transaction() as conn:
            runs.record_failures(conn, ctx.run_id, lost)
    return total


def counts_summary(counts: LoadCounts) -> dict[str, Any]:
    return {k: v for k, v in asdict(counts).items() if k != "failures"}
