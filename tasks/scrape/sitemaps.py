"""Sitemaps for backfills: article URLs with their dates, from sitemap indexes and url sets.

trafilatura's `sitemap_search` downloads with its own HTTP client (bypassing our robots,
address policy, size cap and rate limits) and drops each entry's date, which a backfill by
date needs; so sitemaps are fetched with our fetcher and parsed here, following the same
sitemap protocol (sitemapindex → urlset, <lastmod>, Google News <news:publication_date>).
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass, field
from datetime import date

from lxml import etree

from upscway.tasks.scrape.fetch import Fetcher, FetchError
from upscway.tasks.scrape.urls import InvalidUrlError, canonicalize_url

LOGGER = logging.getLogger(__name__)

MAX_SITEMAPS = 200


@dataclass
class SitemapScan:
    urls: list[str] = field(default_factory=list)
    undated: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def parse_sitemap(content: bytes) -> tuple[str, list[tuple[str, date | None]]]:
    """('index' | 'urlset', [(loc, date)]) of one sitemap document."""
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False, no_network=True, recover=False))
    kind = "index" if _local(root.tag) == "sitemapindex" else "urlset"
    if kind == "urlset" and _local(root.tag) != "urlset":
        raise ValueError(f"root element <{_local(root.tag)}> is neither <urlset> nor <sitemapindex>")
    entries = []
    for node in root:
        values = {_local(child.tag): (child.text or "") for child in node.iter()}
        loc = values.get("loc", "").strip()
        if loc:
            entries.append((loc, _date(values.get("publication_date")) or _date(values.get("lastmod"))))
    return kind, entries


def scan_sitemaps(
    fetcher: Fetcher, sitemaps: list[str], since: date, until: date, rate_limit_per_s: float | None = None
) -> SitemapScan:
    """Article URLs dated within [since, until] (inclusive). Child sitemaps last modified
    before `since` are not opened; undated articles are counted and left out."""
    scan = SitemapScan()
    queue, seen = list(sitemaps), set()
    while queue and len(seen) < MAX_SITEMAPS:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        try:
            kind, entries = parse_sitemap(fetcher.fetch(url, rate_limit_per_s=rate_limit_per_s).content)
        except FetchError as exc:
            scan.failures.append((url, str(exc)))
            continue
        except (etree.XMLSyntaxError, ValueError, OSError) as exc:
            scan.failures.append((url, f"malformed sitemap: {exc}"))
            continue
        for loc, day in entries:
            if kind == "index":
                if day is None or day >= since:
                    queue.append(loc)
            elif day is None:
                scan.undated += 1
            elif since <= day <= until:
                try:
                    scan.urls.append(canonicalize_url(loc))
                except InvalidUrlError:
                    scan.failures.append((loc, "unusable URL in sitemap"))
    if queue:
        LOGGER.warning("stopped after %d sitemaps; %d not read", MAX_SITEMAPS, len(queue))
    scan.urls = list(dict.fromkeys(scan.urls))
    return scan
