"""Flow `ingest`: feeds → new entry URLs → pages → articles and chunks in DuckDB."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, unmapped
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from upscway.flows.context import run_context
from upscway.resources import resolve_project_file
from upscway.settings import Settings
from upscway.tasks.scrape.batches import store_pages
from upscway.tasks.scrape.feeds import Source, load_sources
from upscway.tasks.scrape.steps import read_feed, record_feeds


def sources_to_read(settings: Settings, feeds: str | Path | None, source: str | None) -> list[Source]:
    """The enabled sources of the feeds file (or only `source`); a bad file or name is an
    InputError naming it, raised before any run starts when the CLI calls this first."""
    return load_sources(resolve_project_file(feeds or settings.ingest.feeds_file)).select(source)


@flow(name="ingest", task_runner=ThreadPoolTaskRunner(max_workers=4))
def ingest(
    feeds: str | None = None,
    source: str | None = None,
    limit: int | None = None,
    profile: str | None = None,
    data_dir: str | None = None,
) -> State:
    """Read every enabled source's feeds (or only `source`), fetch the entries not stored yet
    (at most `limit`), and store their articles and chunks."""
    with run_context("ingest", {"feeds": feeds, "source": source, "limit": limit}, profile, data_dir) as run:
        sources = sources_to_read(run.settings, feeds, source)
        jobs = [(s, url) for s in sources for url in s.feeds]
        outcomes = read_feed.map(
            unmapped(run.store), [s for s, _ in jobs], [u for _, u in jobs], unmapped(run.settings.ingest)
        ).result()
        requests = record_feeds(run.store, run.run_id, outcomes, sources, limit)
        counts = store_pages(run.store, run.layout, run.run_id, requests, run.settings.ingest, run.settings.chunk)
        return run.finish({"sources": len(sources), "feeds": len(jobs), "new_urls": len(requests), **counts.summary()})
