"""What a backfill fetches: a source's sitemap entries between two dates, a file of URLs, or a
folder of saved pages. They go into the frontier like a feed's entries; the backfill then
fetches those of them not stored yet (failed ones too: a backfill is an explicit request).
Every unreadable sitemap is recorded; the lines of a URL list that are not URLs are only
counted (the file may not be a URL list at all: its lines are not copied anywhere)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import NamedTuple

from prefect import task

from upscway.errors import InputError
from upscway.inputs import BackfillInput, parse_day
from upscway.records import Failure
from upscway.settings import IngestSettings
from upscway.storage import articles as article_rows
from upscway.storage import frontier
from upscway.storage.frontier import Discovered
from upscway.storage.runs import record_failures
from upscway.storage.store import Store
from upscway.tasks.scrape.feeds import load_sources
from upscway.tasks.scrape.fetch import Fetchers
from upscway.tasks.scrape.inputs import read_url_list, saved_pages
from upscway.tasks.scrape.pages import PageRequest
from upscway.tasks.scrape.sitemaps import scan_sitemaps

LOCAL_SOURCE = "local"


def _source(feeds_file: Path, name: str | None, required: bool):
    """The named source from the feeds file; with --urls or --html-dir a name that is not in
    the file is just the label to store the pages under."""
    if name is None:
        return None
    try:
        return load_sources(feeds_file).select(name)[0]
    except InputError:
        if required:
            raise
        return None


class BackfillPlan(NamedTuple):
    new_urls: int  # the input's URLs new to the frontier
    requests: list[PageRequest]  # the pages to fetch: those not stored yet, at most `limit`
    not_urls: int = 0  # lines of a URL list that are not URLs: counted, their text kept nowhere


@task(name="plan-backfill")
def plan_backfill(
    store: Store,
    run_id: str,
    ingest: IngestSettings,
    what: BackfillInput,
    limit: int | None,
    resources: Fetchers,
) -> BackfillPlan:
    """What to fetch from the one input of `what` (its paths already resolved; sitemaps read with
    the fetcher `resources` shares); sitemap failures recorded."""
    source, since, until, urls, html_dir = what.source, what.since, what.until, what.urls, what.html_dir
    feeds_file = Path(what.feeds)
    not_urls = 0
    chosen = _source(feeds_file, source, required=bool(since))
    name = source or LOCAL_SOURCE
    rate = chosen.rate_limit_per_s if chosen else None
    failures: list[Failure] = []
    if since:
        if not chosen.sitemaps:
            raise InputError(f"source {source!r} lists no sitemaps in the feeds file")
        last = parse_day(until, "--until") or date.today()
        scan = scan_sitemaps(resources.fetcher(ingest), chosen.sitemaps, parse_day(since, "--since"), last, rate)
        failures += [Failure("sitemap", url, reason) for url, reason in scan.failures]
        found, origin = [Discovered(u, name) for u in scan.urls], "sitemaps of " + chosen.name
    elif urls:
        listed, not_urls = read_url_list(Path(urls))
        found, origin = [Discovered(u, name) for u in listed], str(urls)
    else:
        found, origin = [Discovered(u, name, str(p)) for u, p in saved_pages(Path(html_dir))], str(html_dir)
    with store.transaction() as conn:
        article_rows.upsert_sources(conn, {name: chosen.language if chosen else "en"})
        record_failures(conn, run_id, failures)
        new = len(found) - len(frontier.known(conn, [d.url for d in found]))
        frontier.discover(conn, found, origin)
        todo = frontier.claim_unfinished(conn, run_id, [d.url for d in found])
    requests = [
        PageRequest(d.url, d.source, rate, d.local_path) for d in {d.url: d for d in found}.values() if d.url in todo
    ]
    return BackfillPlan(new, requests[:limit] if limit else requests, not_urls)
