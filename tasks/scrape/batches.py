"""Scraping a list of pages in batches: `ingest.workers` scrape tasks kept busy, and what they
stage loaded while the next batches are scraped (ingest and backfill share it)."""

from __future__ import annotations

from prefect.futures import PrefectFuture

from upscway import progress
from upscway.records import Failure
from upscway.settings import ChunkSettings, IngestSettings
from upscway.storage import frontier
from upscway.storage.articles import LoadCounts
from upscway.storage.layout import DataLayout
from upscway.storage.runs import record_failures
from upscway.storage.store import Store, disk_full, is_disk_full
from upscway.tasks.fan_out import fan_out
from upscway.tasks.scrape.pages import PageRequest
from upscway.tasks.scrape.steps import ScrapeResources, load_batches, retry_policy, scrape_pages


def store_pages(
    store: Store,
    layout: DataLayout,
    run_id: str,
    requests: list[PageRequest],
    ingest: IngestSettings,
    chunking: ChunkSettings,
    resources: ScrapeResources,
) -> LoadCounts:
    """Scrape pages in batches of `ingest.batch_size` (one Prefect task each, at most
    `ingest.workers` at a time) and load the staged batches `ingest.batches_per_load` at a time
    in one transaction each, while the next batches are scraped.

    A batch whose task fails even after its retries is recorded as a failure, its URLs as a
    transient failure in the frontier (retried later), and the others carry on; staged files
    that could not be loaded go with the run's staging folder, their URLs still pending.
    """
    size = ingest.batch_size
    batches = [requests[i : i + size] for i in range(0, len(requests), size)]
    ready: list[str] = []
    loads: list[PrefectFuture] = []
    lost: list[Failure] = []
    unfetched: list[Failure] = []
    scraped = 0
    progress.report("scrape", 0, len(requests))

    def scrape(batch: list[PageRequest]) -> PrefectFuture:
        return scrape_pages.submit(layout, run_id, batch, ingest, chunking, resources)

    for batch, done in fan_out(batches, scrape, ingest.workers):
        scraped += len(batch)
        progress.report("scrape", scraped, len(requests))
        try:
            ready.append(done.result())
        except Exception as exc:
            if is_disk_full(exc):  # every batch after it would fail the same way: stop the run now
                raise disk_full(layout.staging) from None
            reason = f"{type(exc).__name__}: {exc}"
            lost.append(Failure("batch", f"{len(batch)} pages from {batch[0].url}", reason))
            unfetched += [Failure("page", r.url, f"its batch failed: {reason}", transient=True) for r in batch]
        if ready and (len(ready) >= ingest.batches_per_load or scraped == len(requests)):  # or the last batch is in
            loads.append(load_batches.submit(store, run_id, ready, ingest))  # runs while scraping goes on
            ready = []
        _stop_if_disk_full(loads, store)
    total = LoadCounts()
    for load in loads:
        try:
            total.add(load.result())
        except Exception as exc:
            if is_disk_full(exc):
                raise disk_full(store.path) from None
            lost.append(Failure("load", "staged batches", f"{type(exc).__name__}: {exc}"))
    if lost:
        with store.transaction() as conn:
            record_failures(conn, run_id, lost)
            frontier.fail(conn, unfetched, retry_policy(ingest))
    return total


def _stop_if_disk_full(loads: list[PrefectFuture], store: Store) -> None:
    """A load that met a full disk stops the run before it scrapes (and stages) any more."""
    for load in loads:
        if load.state.is_failed() and is_disk_full(load.state.result(raise_on_failure=False)):
            raise disk_full(store.path)
