"""Flow `backfill`: past articles through the same extraction, dedupe and chunking as ingest.

Exactly one input: a source's sitemaps between two dates (`--source S --since D [--until D]`),
a file of URLs (`--urls FILE`), or a folder of saved pages (`--html-dir DIR`).
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from upscway.flows.context import FromProfile, Setup, run_context
from upscway.flows.parameters import parameter_file
from upscway.inputs import BackfillInput
from upscway.resources import resolve_project_file
from upscway.summaries import PagesSummary
from upscway.tasks.scrape.backfill import plan_backfill
from upscway.tasks.scrape.batches import store_pages
from upscway.tasks.scrape.steps import recover_staged

__all__ = ["BackfillInput", "backfill", "backfill_on"]


@flow(name="backfill", task_runner=ThreadPoolTaskRunner(max_workers=4))
def backfill(
    what: BackfillInput = BackfillInput(),
    limit: int | None = None,
    profile: str | None = None,
    data_dir: str | None = None,
) -> State:
    return backfill_on(FromProfile(profile, data_dir), what, limit)


def backfill_on(setup: Setup | FromProfile, what: BackfillInput = BackfillInput(), limit: int | None = None) -> State:
    """The `backfill` run on `setup` (flows/context.py)."""
    what.check()
    with run_context("backfill", {**what.model_dump(exclude={"feeds"}), "limit": limit}, setup) as run:
        ingest = run.settings.ingest
        resolved = what.model_copy(
            update={
                "feeds": str(
                    parameter_file(run.settings, "--feeds", what.feeds) or resolve_project_file(ingest.feeds_file)
                ),
                "urls": _text(parameter_file(run.settings, "--urls", what.urls)),
                "html_dir": _text(parameter_file(run.settings, "--html-dir", what.html_dir)),
            }
        )
        counts = recover_staged(run.store, run.layout, run.run_id, ingest)
        plan = plan_backfill(run.store, run.run_id, ingest, resolved, limit, run.resources)
        counts.add(
            store_pages(run.store, run.layout, run.run_id, plan.requests, ingest, run.settings.chunk, run.resources)
        )
        not_urls = plan.not_urls if what.urls else None  # counted only for a URL list
        return run.finish(
            PagesSummary(new_urls=plan.new_urls, not_urls=not_urls, fetched=len(plan.requests), **counts.summary())
        )


def _text(path) -> str | None:
    return None if path is None else str(path)
