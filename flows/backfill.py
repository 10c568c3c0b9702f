"""Flow `backfill`: past articles through the same extraction, dedupe and chunking as ingest.

Exactly one input: a source's sitemaps between two dates (`--source S --since D [--until D]`),
a file of URLs (`--urls FILE`), or a folder of saved pages (`--html-dir DIR`).
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from upscway.flows.context import run_context
from upscway.flows.parameters import parameter_file
from upscway.resources import resolve_project_file
from upscway.tasks.scrape.backfill import check_backfill_args, plan_backfill
from upscway.tasks.scrape.batches import store_pages
from upscway.tasks.scrape.steps import recover_staged

__all__ = ["backfill", "check_backfill_args"]


@flow(name="backfill", task_runner=ThreadPoolTaskRunner(max_workers=4))
def backfill(
    source: str | None = None,
    since: str | None = None,
    until: str | None = None,
    urls: str | None = None,
    html_dir: str | None = None,
    feeds: str | None = None,
    limit: int | None = None,
    profile: str | None = None,
    data_dir: str | None = None,
) -> State:
    check_backfill_args(source, since, until, urls, html_dir)
    parameters = {"source": source, "since": since, "until": until, "urls": urls, "html_dir": html_dir, "limit": limit}
    with run_context("backfill", parameters, profile, data_dir) as run:
        ingest = run.settings.ingest
        feeds_file = parameter_file(run.settings, "--feeds", feeds) or resolve_project_file(ingest.feeds_file)
        urls_file, pages = parameter_file(run.settings, "--urls", urls), parameter_file(run.settings, "--html-dir", html_dir)
        counts = recover_staged(run.store, run.layout, run.run_id, ingest)
        plan = plan_backfill(run.store, run.run_id, ingest, feeds_file, source, since, until, urls_file, pages, limit)
        counts.add(store_pages(run.store, run.layout, run.run_id, plan.requests, ingest, run.settings.chunk))
        listed = {"not_urls": plan.not_urls} if urls else {}
        return run.finish({"new_urls": plan.new_urls, **listed, "fetched": len(plan.requests), **counts.summary()})
