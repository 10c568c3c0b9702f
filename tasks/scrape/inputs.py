"""Backfill inputs given by a person: a file of URLs, or a folder of saved pages."""

from __future__ import annotations

import re
from pathlib import Path

from upscway.errors import InputError
from upscway.records import Failure
from upscway.tasks.scrape.urls import InvalidUrlError, canonicalize_url

_CANONICAL = re.compile(
    rb"""<link[^>]+rel=["']canonical["'][^>]*href=["']([^"']+)["']|<link[^>]+href=["']([^"']+)["'][^>]*rel=["']canonical["']"""
    rb"""|<meta[^>]+property=["']og:url["'][^>]*content=["']([^"']+)["']""",
    re.I,
)


def read_url_list(path: Path) -> tuple[list[str], list[Failure]]:
    """Canonical URLs from a text file (one per line; blank lines and `#` comments ignored).

    A line that is not an http(s) URL becomes a failure naming `file:line`; the rest go ahead.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read URL list {path}: {exc}") from None
    urls, failures = [], []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            urls.append(canonicalize_url(line))
        except InvalidUrlError as exc:
            failures.append(Failure("input", f"{path}:{number}", str(exc)))
    return list(dict.fromkeys(urls)), failures


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
        match = _CANONICAL.search(path.read_bytes()[:65536])
        url = None
        if match:
            raw = next(g for g in match.groups() if g).decode("utf-8", errors="replace")
            try:
                url = canonicalize_url(raw)
            except InvalidUrlError:
                url = None
        pages.append((url or path.resolve().as_uri(), path))
    return pages
