"""Backfill inputs given by a person: a file of URLs, or a folder of saved pages."""

from __future__ import annotations

import re
from pathlib import Path

from upscway.errors import InputError
from upscway.inputs import read_text
from upscway.tasks.scrape.urls import InvalidUrlError, canonicalize_url

_CANONICAL = re.compile(
    rb"""<link[^>]+rel=["']canonical["'][^>]*href=["']([^"']+)["']|<link[^>]+href=["']([^"']+)["'][^>]*rel=["']canonical["']"""
    rb"""|<meta[^>]+property=["']og:url["'][^>]*content=["']([^"']+)["']""",
    re.I,
)


def read_url_list(path: Path) -> tuple[list[str], int]:
    """Canonical URLs from a text file (one per line; blank lines and `#` comments ignored),
    read through `read_text` (a regular file of bounded size), and how many other lines it has.

    A line that is not an http(s) URL is only counted: a file named by mistake (a `.env`, a key
    file) must not have its lines copied into the store's failures or the run's log.
    """
    lines = read_text(path, "URL list").splitlines()
    urls, not_urls = [], 0
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            urls.append(canonicalize_url(line))
        except InvalidUrlError:
            not_urls += 1
    return list(dict.fromkeys(urls)), not_urls


def _head(path: Path, size: int = 65536) -> bytes:
    """The first `size` bytes of a saved page, where its canonical link is; never the whole file."""
    with open(path, "rb") as page:
        return page.read(size)


def saved_pages(folder: Path) -> list[tuple[str, Path]]:
    """(canonical URL, file) for every *.html / *.htm under `folder`.

    The URL is the page's own <link rel="canonical"> or og:url, so a saved copy deduplicates
    against the same article fetched live; a page naming neither is keyed by its file URI.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--html-dir {folder} is not a folder")
    pages = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".html", ".htm") and p.is_file()):
        match = _CANONICAL.search(_head(path))
        url = None
        if match:
            raw = next(g for g in match.groups() if g).decode("utf-8", errors="replace")
            try:
                url = canonicalize_url(raw)
            except InvalidUrlError:
                url = None
        pages.append((url or path.resolve().as_uri(), path))
    return pages
