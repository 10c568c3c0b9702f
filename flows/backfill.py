"""Flow `backfill`: past articles through the same extraction, dedupe and chunking as ingest.

Exactly one input: a source's sitemaps between two dates (`--source S --since D [--until D]`),
a file of URLs (`--urls FILE`), or a folder of saved pages (`--html-dir DIR`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, task
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from upscway.errors import InputError
from upscway.flows.common import RunContext, begin_run, counts_summary, end_run, fail_run, store_pages
from upscway.resources import resolve_project_file
from upscway.storage import articles as article_repo
from upscway.storage.runs import Failure, record_failures
from upscway.tasks.scrape.feeds import load_sources
from upscway.tasks.scrape.inputs import read_url_list, saved_pages
from upscway.tasks.scrape.pages import PageRequest
from upscway.tasks.scrape.sitemaps import scan_sitemaps
from upscway.tasks.scrape.fetch import shared_fetcher
from upscway.tasks.scrape.steps import close_shared

LOCAL_SOURCE = "local"


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def check_backfill_args(source, since, until, urls, html_dir) -> None:
    """Raise InputError unless exactly one input is given, with what it needs."""
    given = [name for name, value in (("--since", since), ("--urls", urls), ("--html-dir", html_dir)) if value]
    if len(given) != 1:
        raise InputError("backfill needs exactly one of --source/--since, --urls or --html-dir" + (f" (got {', '.join(given)})" if given else ""))
    if since and not source:
        raise InputError("--since reads a source's sitemaps: name it with --source")
    first, last = _day(since, "--since"), _day(until, "--until")
    if first and last and last < first:
        raise InputError(f"--until {until} is before --since {since}")


def _source(ctx: RunContext, name: str | None, feeds: str | None, required: bool):
    """The named source from the feeds file; with --urls or --html-dir a name that is not in
    the file is just the label to store the pages under."""
    if name is None:
        return None
    try:
        return load_sources(resolve_project_file(feeds or ctx.settings.ingest.feeds_file)).select(name)[0]
    except InputError:
        if required:
            raise
        return None


@task(name="plan-backfill")
def plan_backfill(ctx: RunContext, source, since, until, urls, html_dir, feeds, limit) -> list[PageRequest]:
    """The pages to fetch: new URLs only, input failures recorded."""
    chosen = _source(ctx, source, feeds, required=bool(since))
    name = source or LOCAL_SOURCE
    rate = chosen.rate_limit_per_s if chosen else None
    failures: list[Failure] = []
    if since:
        if not chosen.sitemaps:
            raise InputError(f"source {source!r} lists no sitemaps in the feeds file")
        last = _day(until, "--until") or date.today()
        scan = scan_sitemaps(shared_fetcher(ctx.settings.ingest), chosen.sitemaps, _day(since, "--since"), last, rate)
        failures += [Failure("sitemap", url, reason) for url, reason in scan.failures]
        requests = [PageRequest(u, name, rate) for u in scan.urls]
    elif urls:
        found, bad = read_url_list(Path(urls))
        failures += bad
        requests = [PageRequest(u, name, rate) for u in found]
    else:
        requests = [PageRequest(u, name, None, str(p)) for u, p in saved_pages(Path(html_dir))]
    with ctx.store.transaction() as conn:
        article_repo.upsert_sources(conn, [(name, chosen.language if chosen else "en")])
        record_failures(conn, ctx.run_id, failures)
        known = article_repo.known_urls(conn, [r.url for r in requests])
    fresh = [r for r in requests if r.url not in known]
    return fresh[:limit] if limit else fresh


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
    ctx = begin_run(
        "backfill", profile, data_dir,
        {"source": source, "since": since, "until": until, "urls": urls, "html_dir": html_dir, "limit": limit},
    )
    try:
        requests = plan_backfill(ctx, source, since, until, urls, html_dir, feeds, limit)
        counts = store_pages(ctx, requests)
    except BaseException as exc:
        fail_run(ctx, exc)
        raise
    finally:
        close_shared()
    return end_run(ctx, {"new_urls": len(requests), **counts_summary(counts)})
