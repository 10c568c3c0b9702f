"""Flow `ingest`: feeds → the frontier → due pages → articles and chunks in DuckDB."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from upscway.flows.context import FromProfile, Setup, run_context
from upscway.flows.parameters import parameter_file
from upscway.resources import resolve_project_file
from upscway.settings import Settings
from upscway.summaries import IngestSummary
from upscway.tasks.scrape.batches import store_pages
from upscway.tasks.scrape.feeds import Source, load_sources
from upscway.tasks.scrape.steps import due_pages, read_feeds, record_feeds, recover_staged


def sources_to_read(settings: Settings, feeds: str | Path | None, source: str | None) -> list[Source]:
    """The enabled sources of the feeds file `feeds` (a parameter: `parameter_file`), else of the
    configured one (or only `source`); a bad file or name is an InputError naming it."""
    chosen = parameter_file(settings, "--feeds", feeds) or resolve_project_file(settings.ingest.feeds_file)
    return load_sources(chosen).select(source)


@flow(name="ingest", task_runner=ThreadPoolTaskRunner(max_workers=4))
def ingest(
    feeds: str | None = None,
    source: str | None = None,
    limit: int | None = None,
    profile: str | None = None,
    data_dir: str | None = None,
) -> State:
    """Load what dead runs staged, record every enabled source's feed entries (or only
    `source`'s) in the frontier, then fetch the due URLs, oldest first (at most `limit`), and
    store their articles and chunks."""
    return ingest_on(FromProfile(profile, data_dir), feeds, source, limit)


def ingest_on(
    setup: Setup | FromProfile, feeds: str | None = None, source: str | None = None, limit: int | None = None
) -> State:
    """The `ingest` run on `setup` (flows/context.py)."""
    with run_context("ingest", {"feeds": feeds, "source": source, "limit": limit}, setup) as run:
        ingest = run.settings.ingest
        sources = sources_to_read(run.settings, feeds, source)
        counts = recover_staged(run.store, run.layout, run.run_id, ingest)
        outcomes = read_feeds(run.store, sources, ingest, run.resources)
        new_urls = record_feeds(run.store, run.run_id, outcomes, sources)
        requests = due_pages(run.store, run.run_id, sources, limit)
        counts.add(store_pages(run.store, run.layout, run.run_id, requests, ingest, run.settings.chunk, run.resources))
        return run.finish(
            IngestSummary(
                sources=len(sources), feeds=len(outcomes), new_urls=new_urls, fetched=len(requests), **counts.summary()
            )
        )
