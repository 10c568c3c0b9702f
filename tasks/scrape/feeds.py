"""The sources file (feeds.yaml) and turning one fetched feed into entry URLs."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from pydantic import BaseModel, ConfigDict, Field

from upscway.config_files import load_yaml_model
from upscway.errors import InputError
from upscway.tasks.scrape.fetch import Fetcher, FetchError
from upscway.tasks.scrape.urls import InvalidUrlError, canonicalize_url

LOGGER = logging.getLogger(__name__)


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    feeds: list[str] = Field(default_factory=list)
    sitemaps: list[str] = Field(default_factory=list)
    language: str = "en"
    rate_limit_per_s: float = Field(1.0, ge=0, description="Requests per second to each host; 0 means no limit.")
    enabled: bool = True


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Source]

    def select(self, name: str | None = None) -> list[Source]:
        """Enabled sources, or the one named (enabled or not: asking by name is explicit)."""
        if name is None:
            return [s for s in self.sources if s.enabled]
        for source in self.sources:
            if source.name == name:
                return [source]
        known = ", ".join(s.name for s in self.sources)
        raise InputError(f"no source named {name!r} in the feeds file; known: {known}")


def load_sources(path: Path) -> SourcesFile:
    """Parse and validate a feeds file; every problem is an InputError naming the file."""
    parsed = load_yaml_model(path, SourcesFile, "feeds file")
    names = [s.name for s in parsed.sources]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(f"feeds file {path} names a source more than once: {', '.join(duplicated)}")
    return parsed


@dataclass
class FeedEntry:
    url: str
    title: str | None = None
    published: str | None = None


@dataclass
class ParsedFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    problem: str | None = None


def _published(entry: feedparser.FeedParserDict) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC).date().isoformat()


# Warnings feedparser raises for documents it parsed fine (a feed served as text/html, a
# charset header that disagrees with the XML declaration).
BENIGN = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def parse_feed(content: bytes, feed_url: str, content_type: str | None = None) -> ParsedFeed:
    """Entries of an RSS or Atom document with canonical links.

    A malformed document yields `problem` (recorded as a failure) plus whatever entries
    feedparser could still recover, so a single broken item does not cost the whole feed.
    """
    # content-location lets feedparser resolve relative links against the feed's own URL.
    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(content, response_headers=headers)
    problem = None
    if parsed.bozo and not isinstance(parsed.bozo_exception, BENIGN):
        problem = f"malformed feed: {type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"
    if not parsed.entries and parsed.version == "":
        problem = problem or "not an RSS or Atom feed"
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        link = entry.get("link") or entry.get("id")
        if not link:
            continue
        try:
            url = canonicalize_url(link)
        except InvalidUrlError:
            LOGGER.info("feed %s: skipping entry with unusable link", feed_url)
            continue
        if url not in seen:
            seen.add(url)
            entries.append(FeedEntry(url=url, title=entry.get("title"), published=_published(entry)))
    return ParsedFeed(entries=entries, problem=problem)


@dataclass
class FeedOutcome:
    """What one feed fetch produced: entries, new conditional-GET state, or a failure."""

    feed_url: str
    source: str
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    failure: str | None = None


def fetch_feed(
    fetcher: Fetcher, source: Source, feed_url: str, etag: str | None, last_modified: str | None
) -> FeedOutcome:
    """Conditional GET of one feed; a 304 answer yields no entries and keeps the old state."""
    outcome = FeedOutcome(feed_url=feed_url, source=source.name)
    try:
        response = fetcher.fetch(
            feed_url, etag=etag, last_modified=last_modified, rate_limit_per_s=source.rate_limit_per_s
        )
    except FetchError as exc:
        outcome.failure = str(exc)
        return outcome
    outcome.status = response.status
    outcome.etag = response.headers.get("etag")
    outcome.last_modified = response.headers.get("last-modified")
    if response.not_modified:
        return outcome
    try:
        parsed = parse_feed(response.content, feed_url, response.content_type)
    except Exception as exc:  # a parser crash on one feed must not stop the others
        outcome.failure = f"unparseable feed: {type(exc).__name__}: {exc}"
        return outcome
    outcome.entries = parsed.entries
    outcome.failure = parsed.problem
    return outcome
