"""The scrape stage as Prefect tasks: thin wrappers that open the store briefly and call the
plain functions. Tasks exchange URLs, paths and counts, never connections or page bodies."""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from prefect import get_run_logger, task

from upscway.records import Failure
from upscway.settings import ChunkSettings, IngestSettings
from upscway.storage import articles as article_rows
from upscway.storage import frontier, runs
from upscway.storage.articles import LoadCounts
from upscway.storage.frontier import Discovered, RetryPolicy
from upscway.storage.layout import DataLayout
from upscway.storage.runs import record_failures
from upscway.storage.staging import StagedBatch, leftovers
from upscway.storage.store import Store, is_disk_full
from upscway.tasks.limits import writer_slot
from upscway.tasks.scrape.feeds import FeedOutcome, Source, fetch_feed
from upscway.tasks.scrape.fetch import Fetchers
from upscway.tasks.scrape.pages import PageRequest, scrape_batch


class ScrapeResources(Fetchers, Protocol):
    """What scraping pages shares in a run: fetchers, and the pool of worker processes
    (`tasks.resources.RunResources`)."""

    def pool(self, processes: int) -> ProcessPoolExecutor: ...


def worker_pool(resources: ScrapeResources, processes: int) -> ProcessPoolExecutor | None:
    """The run's pool of worker processes that scrape batches (`ingest.processes`), or None to
    scrape in the task's thread. Each worker builds its own fetcher from the settings it
    receives. A task already running in a daemonic worker process (the Dask runner's) scrapes
    in its own thread: such a process may not start children, and the runner's workers are the
    parallelism then."""
    if processes == 0 or multiprocessing.current_process().daemon:
        return None
    return resources.pool(processes)


def _share_rate_limits(requests: list[PageRequest], processes: int) -> list[PageRequest]:
    """Each worker process limits hosts on its own, so each gets 1/processes of the rate."""
    return [replace(r, rate_limit_per_s=r.rate_limit_per_s / processes) if r.rate_limit_per_s else r for r in requests]


@task(name="read-feeds")
def read_feeds(store: Store, sources: list[Source], settings: IngestSettings, resources: Fetchers) -> list[FeedOutcome]:
    """Every feed of `sources` (conditional GETs, `fetch_concurrency` at once), in one task run:
    a feed is one small request, and a task run per feed cost more in orchestration than the
    request itself."""
    jobs = [(s, url) for s in sources for url in s.feeds]
    with store.reader() as conn:
        states = {url: article_rows.feed_state(conn, url) for _, url in jobs}
    fetcher, logger = resources.fetcher(settings), get_run_logger()

    def read(job: tuple[Source, str]) -> FeedOutcome:
        source, url = job
        return fetch_feed(fetcher, source, url, states[url].etag, states[url].last_modified)

    with ThreadPoolExecutor(max_workers=settings.fetch_concurrency) as threads:
        outcomes = list(threads.map(read, jobs))
    for o in outcomes:
        logger.info(
            "feed %s: status %s, %d entries%s",
            o.feed_url,
            o.status,
            len(o.entries),
            f", problem: {o.failure[:200]}" if o.failure else "",
        )
    return outcomes


@task(name="record-feeds")
def record_feeds(store: Store, run_id: str, outcomes: list[FeedOutcome], sources: list[Source]) -> int:
    """Record every feed's entries as pending in the frontier, in the transaction that saves
    the feed's ETag/Last-Modified (so a 304 next time can never hide an entry not recorded),
    and the feed failures; returns how many entries were new to the frontier."""
    entries = {e.url: Discovered(e.url, o.source) for o in outcomes for e in o.entries}
    by = {e.url: o.feed_url for o in outcomes for e in o.entries}
    with store.transaction() as conn:
        article_rows.upsert_sources(conn, {s.name: s.language for s in sources})
        before = frontier.known(conn, list(entries))
        frontier.discover(conn, entries.values(), [by[url] for url in entries])
        for o in outcomes:
            article_rows.save_feed_state(conn, o.feed_url, o.source, o.status, o.etag, o.last_modified, len(o.entries))
        record_failures(conn, run_id, [Failure("feed", o.feed_url, o.failure) for o in outcomes if o.failure])
    get_run_logger().info("%d entries in feeds, %d new", len(entries), len(entries) - len(before))
    return len(entries) - len(before)


@task(name="due-pages")
def due_pages(store: Store, run_id: str, sources: list[Source], limit: int | None) -> list[PageRequest]:
    """The frontier's due URLs of these sources, oldest first (at most `limit`; the rest stay
    pending for the next run), claimed for this run: another run at the same time skips them."""
    with store.transaction() as conn:
        due = frontier.claim_due(conn, run_id, [s.name for s in sources], limit)
    return requests_for(due, sources)


def requests_for(found: list[Discovered], sources: list[Source]) -> list[PageRequest]:
    rates = {s.name: s.rate_limit_per_s for s in sources}
    return [PageRequest(d.url, d.source, rates.get(d.source), d.local_path) for d in found]


@task(name="recover-staged")
def recover_staged(store: Store, layout: DataLayout, run_id: str, ingest: IngestSettings) -> LoadCounts:
    """Load the complete batches that dead runs staged but never loaded, then remove their
    folders (the URLs of half-written batches are still pending and are fetched again)."""
    with store.reader() as conn:
        live = {row.id for row in runs.running(conn)} | {run_id}
    left = leftovers(layout.staging, live)
    counts = load_staged_batches(store, run_id, left.batches, ingest) if left.batches else LoadCounts()
    left.remove()
    if left.folders:
        get_run_logger().warning(
            "recovered %d staged batches (%d articles) left by %d dead runs",
            len(left.batches),
            counts.articles,
            len(left.folders),
        )
    return counts


def _unless_disk_full(task, task_run, state) -> bool:
    """Retry a failed batch, unless the disk is full: a retry would fail the same way."""
    return not is_disk_full(state.result(raise_on_failure=False))


@task(name="scrape-pages", retries=1, retry_delay_seconds=5, retry_condition_fn=_unless_disk_full)
def scrape_pages(
    layout: DataLayout,
    run_id: str,
    requests: list[PageRequest],
    ingest: IngestSettings,
    chunking: ChunkSettings,
    resources: ScrapeResources,
) -> str:
    """Fetch, extract and chunk a batch (in a worker process when `ingest.processes` > 0) and
    stage it; return the staged folder. A retry reuses a batch already staged."""
    staged = StagedBatch(
        layout.run_staging(run_id) / f"batch-{uuid.uuid5(uuid.NAMESPACE_URL, requests[0].url).hex[:12]}"
    )
    if not staged.path.exists():
        pool = worker_pool(resources, ingest.processes)
        if pool is None:
            outcome = scrape_batch(requests, ingest, chunking, staged, resources)
        else:
            shared = _share_rate_limits(requests, ingest.processes)
            outcome = pool.submit(scrape_batch, shared, ingest, chunking, staged, resources).result()
        get_run_logger().info(
            "scraped %d pages: %d articles, %d failures", outcome.pages, outcome.articles, outcome.failures
        )
    return str(staged.path)


def retry_policy(ingest: IngestSettings) -> RetryPolicy:
    return RetryPolicy(ingest.max_attempts, ingest.retry_base_s)


def load_staged_batches(store: Store, run_id: str, batches: list[StagedBatch], ingest: IngestSettings) -> LoadCounts:
    """Load staged batches in ONE write transaction, then delete them.

    DuckDB's checkpoint when the file is closed dominates a small load (about 100 ms for 50
    articles here); loading several batches per transaction divides that cost (4 batches: 3x
    less CPU, measured).
    """
    total = LoadCounts()
    with writer_slot(), store.transaction() as conn:
        for batch in batches:
            total.add(article_rows.load_staged(conn, batch, run_id, retry_policy(ingest)))
    for batch in batches:
        batch.remove()
    return total


@task(name="load-batches", retries=2, retry_delay_seconds=10, retry_condition_fn=_unless_disk_full)
def load_batches(store: Store, run_id: str, paths: list[str], ingest: IngestSettings) -> LoadCounts:
    batches = [StagedBatch(Path(p)) for p in paths]
    total = load_staged_batches(store, run_id, batches, ingest)
    get_run_logger().info(
        "stored %d articles and %d chunks from %d staged batches (%d duplicates, %d already stored)",
        total.articles,
        total.chunks,
        len(batches),
        total.duplicates,
        total.already_stored,
    )
    return total
