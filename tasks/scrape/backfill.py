"""What a backfill fetches: a source's sitemap entries between two dates, a file of URLs, or a
folder of saved pages; only URLs not stored yet, and every unreadable input recorded."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import task

from upscway.errors import InputError
from upscway.records import Failure
from upscway.settings import IngestSettings
from upscway.storage import articles as article_repo
from upscway.storage.runs import record_failures
from upscway.storage.store import Store
from upscway.tasks.scrape.feeds import load_sources
from upscway.tasks.scrape.fetch import shared_fetcher
from upscway.tasks.scrape.inputs import read_url_list, saved_pages
from upscway.tasks.scrape.pages import PageRequest
from upscway.tasks.scrape.sitemaps import scan_sitemaps

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


@task(name="plan-backfill")
def plan_backfill(
    store: Store, run_id: str, ingest: IngestSettings, feeds_file: Path, source: str | None, since: str | None,
    until: str | None, urls: str | None, html_dir: str | None, limit: int | None,
) -> list[PageRequest]:
    """The pages to fetch: new URLs only, input failures recorded."""
    chosen = _source(feeds_file, source, required=bool(since))
    name = source or LOCAL_SOURCE
    rate = chosen.rate_limit_per_s if chosen else None
    failures: list[Failure] = []
    if since:
        if not chosen.sitemaps:
            raise InputError(f"source {source!r} lists no sitemaps in the feeds file")
        last = _day(until, "--until") or date.today()
        scan = scan_sitemaps(shared_fetcher(ingest), chosen.sitemaps, _day(since, "--since"), last, rate)
        failures += [Failure("sitemap", url, reason) for url, reason in scan.failures]
        requests = [PageRequest(u, name, rate) for u in scan.urls]
    elif urls:
        found, bad = read_url_list(Path(urls))
        failures += bad
        requests = [PageRequest(u, name, rate) for u in found]
    else:
        requests = [PageRequest(u, name, None, str(p)) for u, p in saved_pages(Path(html_dir))]
    with store.transaction() as conn:
        article_repo.upsert_sources(conn, {name: chosen.language if chosen else "en"})
        record_failures(conn, run_id, failures)
        known = article_repo.known_urls(conn, [r.url for r in requests])
    fresh = [r for r in requests if r.url not in known]
    return fresh[:limit] if limit else fresh
