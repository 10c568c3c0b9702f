"""What every flow does around its work: settings, the store, run bookkeeping, final state."""

from __future__ import annotations

import logging
import shutil
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from prefect import get_run_logger
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.states import Completed, State

from upscway import progress
from upscway.flows.outcomes import describe
from upscway.settings import Settings, load_settings
from upscway.storage import runs
from upscway.storage.articles import LoadCounts
from upscway.storage.layout import DataLayout
from upscway.storage.migrations import migrate
from upscway.storage.runs import Failure
from upscway.storage.store import Store
from upscway.tasks.limits import ensure_limits
from upscway.tasks.scrape.pages import PageRequest
from upscway.tasks.scrape.steps import load_batches, scrape_pages

LOGGER = logging.getLogger(__name__)

COMPLETED_WITH_FAILURES = "CompletedWithFailures"


@dataclass
class RunContext:
    run_id: str
    flow: str
    settings: Settings
    store: Store
    layout: DataLayout
    started: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return time.monotonic() - self.started


def open_store(settings: Settings) -> Store:
    """The configured store, migrated to the current schema."""
    store = Store(settings.database_path, lock_timeout_s=settings.storage.lock_timeout_s)
    migrate(store)
    return store


def begin_run(flow: str, profile: str | None, data_dir: str | None, parameters: dict[str, Any]) -> RunContext:
    settings = load_settings(profile, data_dir)
    store = open_store(settings)
    ensure_limits(settings.limits)
    run_id = flow_run.id or str(uuid.uuid4())
    with store.transaction() as conn:
        runs.start_run(conn, run_id, flow, {**parameters, "profile": settings.profile})
    return RunContext(run_id, flow, settings, store, DataLayout(settings.data_dir))


def fail_run(ctx: RunContext, error: BaseException) -> None:
    summary = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
    with ctx.store.transaction() as conn:
        runs.finish_run(conn, ctx.run_id, "failed", summary)
    line = describe(ctx.flow, summary)
    get_run_logger().error("%s failed after %.1f s: %s", ctx.flow, ctx.seconds(), line)
    progress.finished(ctx.flow, "failed", f"after {ctx.seconds():.0f} s: {line}")


def failure_of(state: State) -> Any:
    """What a failed run left: its exception, with the finished frames of the traceback cleared
    (their locals, closed DuckDB connections among them, would otherwise live as long as the
    state and be reported by DuckDB's binding as leaked at exit), or the data it failed with."""
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        traceback.clear_frames(outcome.__traceback__)
    return outcome


def end_run(ctx: RunContext, summary: dict[str, Any]) -> State:
    """Record the outcome; the state is named `CompletedWithFailures` when any item failed."""
    shutil.rmtree(ctx.layout.run_staging(ctx.run_id), ignore_errors=True)
    with ctx.store.transaction() as conn:
        summary["failures"] = runs.count_failures(conn, ctx.run_id)
        summary["run_id"] = ctx.run_id
        status = "completed_with_failures" if summary["failures"] else "completed"
        runs.finish_run(conn, ctx.run_id, status, summary)
    line = describe(ctx.flow, summary)
    get_run_logger().info("%s finished in %.1f s: %s", ctx.flow, ctx.seconds(), line)
    progress.finished(ctx.flow, status.replace("_", " "), f"in {ctx.seconds():.0f} s: {line}")
    if summary["failures"]:
        return Completed(
            name=COMPLETED_WITH_FAILURES,
            message=f"{summary['failures']} item(s) failed; see the failures table for run {ctx.run_id}",
            data=summary,
        )
    return Completed(data=summary)


def store_pages(ctx: RunContext, requests: list[PageRequest]) -> LoadCounts:
    """Scrape pages in batches of `ingest.batch_size` (one Prefect task each, at most
    `ingest.workers` at a time) and load the staged batches `ingest.batches_per_load` at a time
    in one transaction each, while the next batches are scraped.

    A batch whose task fails even after its retries is recorded as a failure and the others
    carry on; staged files that could not be loaded stay under the run's staging folder.
    """
    size, workers = ctx.settings.ingest.batch_size, ctx.settings.ingest.workers
    pending = [requests[i : i + size] for i in range(0, len(requests), size)]
    in_flight: dict[PrefectFuture, list[PageRequest]] = {}
    ready: list[str] = []
    loads: list[PrefectFuture] = []
    lost: list[Failure] = []
    scraped = 0
    progress.report("scrape", 0, len(requests))
    while pending or in_flight or ready:
        while pending and len(in_flight) < workers:
            batch = pending.pop(0)
            future = scrape_pages.submit(ctx.layout, ctx.run_id, batch, ctx.settings.ingest, ctx.settings.chunk)
            in_flight[future] = batch
        if in_flight:
            done = next(as_completed(list(in_flight)))
            batch = in_flight.pop(done)
            scraped += len(batch)
            progress.report("scrape", scraped, len(requests))
            try:
                ready.append(done.result())
            except Exception as exc:
                lost.append(Failure("batch", f"{len(batch)} pages from {batch[0].url}", f"{type(exc).__name__}: {exc}"))
        if ready and (len(ready) >= ctx.settings.ingest.batches_per_load or not (pending or in_flight)):
            loads.append(load_batches.submit(ctx.store, ctx.run_id, ready))  # runs while scraping goes on
            ready = []
    total = LoadCounts()
    for load in loads:
        try:
            total.add(load.result())
        except Exception as exc:
            lost.append(Failure("load", "staged batches", f"{type(exc).__name__}: {exc}"))
    if lost:
        with ctx.store.transaction() as conn:
            runs.record_failures(conn, ctx.run_id, lost)
    return total


def counts_summary(counts: LoadCounts) -> dict[str, Any]:
    return {k: v for k, v in asdict(counts).items() if k != "failures"}
