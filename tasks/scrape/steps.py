"""The scrape stage as Prefect tasks: thin wrappers that open the store briefly and call the
plain functions. Tasks exchange URLs, paths and counts, never connections or page bodies."""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict

from prefect import get_run_logger, task

from upscway.settings import ChunkSettings, IngestSettings
from upscway.storage import articles as article_repo
from upscway.storage.articles import LoadCounts
from upscway.storage.layout import DataLayout
from upscway.storage.runs import Failure, record_failures
from upscway.storage.staging import StagedBatch
from upscway.storage.store import Store
from upscway.tasks.scrape.feeds import FeedOutcome, Source, fetch_feed
from upscway.tasks.scrape.fetch import Fetcher, make_fetcher
from upscway.tasks.scrape.pages import PageRequest, scrape_batch

_FETCHERS: dict[str, Fetcher] = {}
_SHARED_LOCK = threading.Lock()


def shared_fetcher(settings: IngestSettings) -> Fetcher:
    """One fetcher per settings in this process, so robots.txt and per-host rate limits are
    shared by every concurrent task."""
    key = settings.model_dump_json()
    with _SHARED_LOCK:
        if key not in _FETCHERS:
            _FETCHERS[key] = make_fetcher(settings)
        return _FETCHERS[key]


def close_shared() -> None:
    """Close the fetchers a flow run created."""
    with _SHARED_LOCK:
        for fetcher in _FETCHERS.values():
            fetcher.close()
        _FETCHERS.clear()


@task(name="read-feed", task_run_name="read-feed-{source.name}")
def read_feed(store: Store, source: Source, feed_url: str, settings: IngestSettings) -> FeedOutcome:
    with store.reader() as conn:
        etag, last_modified = article_repo.feed_state(conn, feed_url)
    outcome = fetch_feed(shared_fetcher(settings), source, feed_url, etag, last_modified)
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
        article_repo.upsert_sources(conn, [(s.name, s.language) for s in sources])
        for o in outcomes:
            article_repo.save_feed_state(conn, o.feed_url, o.source, o.status, o.etag, o.last_modified, len(o.entries))
        record_failures(conn, run_id, [Failure("feed", o.feed_url, o.failure) for o in outcomes if o.failure])
        known = article_repo.known_urls(conn, list(candidates))
    fresh = [r for url, r in candidates.items() if url not in known]
    if limit is not None:
        fresh = fresh[:limit]
    get_run_logger().info("%d entries in feeds, %d already stored, %d to fetch", len(candidates), len(known), len(fresh))
    return fresh


@task(name="ingest-pages", retries=2, retry_delay_seconds=5)
def ingest_pages(
    store: Store,
    layout: DataLayout,
    run_id: str,
    requests: list[PageRequest],
    ingest: IngestSettings,
    chunking: ChunkSettings,
) -> LoadCounts:
    """Fetch, extract and chunk a batch, stage it, then load it in one short transaction.

    A retry after a failed load reuses the staged batch instead of fetching again.
    """
    staged = StagedBatch(layout.run_staging(run_id) / f"batch-{uuid.uuid5(uuid.NAMESPACE_URL, requests[0].url).hex[:12]}")
    if not staged.path.exists():
        scrape_batch(requests, shared_fetcher(ingest), ingest, chunking, staged)
    with store.transaction() as conn:
        counts = article_repo.load_staged(conn, staged, run_id)
    staged.remove()
    get_run_logger().info("batch of %d pages: %s", len(requests), asdict(counts))
    return counts
