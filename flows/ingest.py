"""Flow `ingest`: feeds → new entry URLs → pages → articles and chunks in DuckDB."""

from __future__ import annotations

from prefect import flow, unmapped
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from upscway.flows.common import begin_run, counts_summary, end_run, fail_run, store_pages
from upscway.resources import resolve_project_file
from upscway.tasks.scrape.feeds import load_sources
from upscway.tasks.scrape.steps import close_shared, read_feed, record_feeds


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
    ctx = begin_run("ingest", profile, data_dir, {"feeds": feeds, "source": source, "limit": limit})
    try:
        sources = load_sources(resolve_project_file(feeds or ctx.settings.ingest.feeds_file)).select(source)
        jobs = [(s, url) for s in sources for url in s.feeds]
        outcomes = read_feed.map(
            unmapped(ctx.store), [s for s, _ in jobs], [u for _, u in jobs], unmapped(ctx.settings.ingest)
        ).result()
        requests = record_feeds(ctx.store, ctx.run_id, outcomes, sources, limit)
        counts = store_pages(ctx, requests)
    except BaseException as exc:
        fail_run(ctx, exc)
        raise
    finally:
        close_shared()
    return end_run(ctx, {"sources": len(sources), "feeds": len(jobs), "new_urls": len(requests), **counts_summary(counts)})
