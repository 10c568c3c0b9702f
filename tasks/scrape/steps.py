"""The scrape stage as Prefect tasks: thin wrappers that open the store briefly and call the
plain functions. Tasks exchange URLs, paths and counts, never connections or page bodies."""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from prefect import get_run_logger, task

from upscway.records import Failure
from upscway.settings import ChunkSettings, IngestSettings
from upscway.storage import articles as article_repo
from upscway.storage.articles import LoadCounts
from upscway.storage.layout import DataLayout
from upscway.storage.runs import record_failures
from upscway.storage.staging import StagedBatch
from upscway.storage.store import Store
from upscway.tasks import resources
from upscway.tasks.limits import writer_slot
from upscway.tasks.scrape.feeds import FeedOutcome, Source, fetch_feed
from upscway.tasks.scrape.fetch import shared_fetcher
from upscway.tasks.scrape.pages import PageRequest, scrape_batch


def worker_pool(processes: int) -> ProcessPoolExecutor | None:
    """The process pool that scrapes batches (`ingest.processes`), or None to scrape in the
    task's thread. Workers are spawned, not forked: the flow process runs threads (Prefect's,
    httpx's) whose locks a fork would copy in whatever state they were."""
    if processes == 0:
        return None
    return resources.current().shared(
        "worker-pool", str(processes),
        lambda: ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")), ProcessPoolExecutor.shutdown,
    )


def _share_rate_limits(requests: list[PageRequest], processes: int) -> list[PageRequest]:
    """Each worker process limits hosts on its own, so each gets 1/processes of the rate."""
    return [replace(r, rate_limit_per_s=r.rate_limit_per_s / processes) if r.rate_limit_per_s else r for r in requests]


@task(name="read-feed", task_run_name="read-feed-{source.name}")
def read_feed(store: Store, source: Source, feed_url: str, settings: IngestSettings) -> FeedOutcome:
    with store.reader() as conn:
        state = article_repo.feed_state(conn, feed_url)
    outcome = fetch_feed(shared_fetcher(settings), source, feed_url, state.etag, state.last_modified)
    get_run_logger().info(
        "feed %s: status %s, %d entries%s",
        feed_url, outcome.status, len(outcome.entries), f", problem: {outcome.failure[:200]}" if outcome.failure else "",
    )
    return outcome


@task(name="record-feeds")
def record_feeds(
    store: Store, run_id: str, outcomes: list[FeedOutcome], sources: list[Source], limit: int | None
) -> list[PageRequest]:
    """Save feed state and feed failures; return the entries not stored yet (at most `limit`)."""
    rates = {s.name: s.rate_limit_per_s for s in sources}
    candidates: dict[str, PageRequest] = {}
    for outcome in outcomes:
        for entry in outcome.entries:
            candidates.setdefault(entry.url, PageRequest(entry.url, outcome.source, rates.get(outcome.source)))
    with store.transaction() as conn:
        article_repo.upsert_sources(conn, {s.name: s.language for s in sources})
        for o in outcomes:
            article_repo.save_feed_state(conn, o.feed_url, o.source, o.status, o.etag, o.last_modified, len(o.entries))
        record_failures(conn, run_id, [Failure("feed", o.feed_url, o.failure) for o in outcomes if o.failure])
        known = article_repo.known_urls(conn, list(candidates))
    fresh = [r for url, r in candidates.items() if url not in known]
    if limit is not None:
        fresh = fresh[:limit]
    get_run_logger().info("%d entries in feeds, %d already stored, %d to fetch", len(candidates), len(known), len(fresh))
    return fresh


@task(name="scrape-pages", retries=1, retry_delay_seconds=5)
def scrape_pages(
    layout: DataLayout, run_id: str, requests: list[PageRequest], ingest: IngestSettings, chunking: ChunkSettings
) -> str:
    """Fetch, extract and chunk a batch (in a worker process when `ingest.processes` > 0) and
    stage it; return the staged folder. A retry reuses a batch already staged."""
    staged = StagedBatch(layout.run_staging(run_id) / f"batch-{uuid.uuid5(uuid.NAMESPACE_URL, requests[0].url).hex[:12]}")
    if not staged.path.exists():
        pool = worker_pool(ingest.processes)
        if pool is None:
            outcome = scrape_batch(requests, ingest, chunking, staged)
        else:
            outcome = pool.submit(scrape_batch, _share_rate_limits(requests, ingest.processes), ingest, chunking, staged).result()
        get_run_logger().info("scraped %d pages: %d articles, %d failures", outcome.pages, outcome.articles, outcome.failures)
    return str(staged.path)


@task(name="load-batches", retries=2, retry_delay_seconds=10)
def load_batches(store: Store, run_id: str, paths: list[str]) -> LoadCounts:
    """Load staged batches in ONE write transaction, then delete them.

    DuckDB's checkpoint when the file is closed dominates a small load (about 100 ms for 50
    articles here); loading several batches per transaction divides that cost (4 batches: 3x
    less CPU, measured).
    """
    batches = [StagedBatch(Path(p)) for p in paths]
    total = LoadCounts()
    with writer_slot(), store.transaction() as conn:
        for batch in batches:
            total.add(article_repo.load_staged(conn, batch, run_id))
    for batch in batches:
        batch.remove()
    get_run_logger().info(
        "stored %d articles and %d chunks from %d staged batches (%d duplicates, %d already stored)",
        total.articles, total.chunks, len(batches), total.duplicates, total.already_stored,
    )
    return total
