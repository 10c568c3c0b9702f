"""The ingest's work without Prefect, for bench_ingest.py to compare against: read the feeds,
fetch, extract and chunk the pages in a process pool, insert articles and chunks into DuckDB.
The same libraries and the project's own functions for each step (feedparser, httpx,
`extract_article`, the `Chunker`, `canonicalize_url`), none of the orchestration: no flow or
task runs, no frontier, no staging files, no robots.txt or address policy."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import duckdb
import feedparser
import httpx

from upscway.hashing import article_id, content_hash
from upscway.settings import ChunkSettings
from upscway.tasks.chunk import Chunker, load_tokenizer
from upscway.tasks.scrape.extract import ExtractionError, extract_article
from upscway.tasks.scrape.urls import canonicalize_url

SCHEMA = """
CREATE TABLE articles (id VARCHAR PRIMARY KEY, canonical_url VARCHAR, title VARCHAR, text VARCHAR, content_hash VARCHAR);
CREATE TABLE chunks (article_id VARCHAR, ordinal INTEGER, text VARCHAR, char_start INTEGER, char_end INTEGER, token_count INTEGER);
"""

_chunker: Chunker | None = None
_client: httpx.Client | None = None


def _worker_init(chunking: ChunkSettings) -> None:
    global _chunker, _client
    _chunker = Chunker(load_tokenizer(chunking.tokenizer), chunking.target_tokens, chunking.overlap_tokens)
    _client = httpx.Client(timeout=20)


def _page(url: str) -> tuple[dict, list[tuple]] | None:
    response = _client.get(url)
    try:
        article = extract_article(response.content, url, response.headers.get("content-type", ""))
    except ExtractionError:
        return None
    ident = article_id(url)
    chunks = [(ident, c.ordinal, c.text, c.char_start, c.char_end, c.token_count) for c in _chunker.split(article.text)]
    return {
        "id": ident,
        "url": url,
        "title": article.title,
        "text": article.text,
        "hash": content_hash(article.text),
    }, chunks


def scrape(urls: list[str], fetch_concurrency: int) -> list[tuple[dict, list[tuple]]]:
    with ThreadPoolExecutor(fetch_concurrency) as threads:
        return [r for r in threads.map(_page, urls) if r is not None]


def run(
    feed_urls: list[str],
    database: Path,
    processes: int,
    batch_size: int,
    fetch_concurrency: int,
    chunking: ChunkSettings,
) -> int:
    """Articles stored."""
    with httpx.Client(timeout=20) as client:
        urls = list(
            dict.fromkeys(
                canonicalize_url(e.link) for f in feed_urls for e in feedparser.parse(client.get(f).content).entries
            )
        )
    batches = [urls[i : i + batch_size] for i in range(0, len(urls), batch_size)]
    conn = duckdb.connect(str(database))
    conn.execute(SCHEMA)
    stored = 0
    with ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init, initargs=(chunking,)
    ) as pool:
        for results in pool.map(scrape, batches, [fetch_concurrency] * len(batches)):
            conn.begin()
            conn.executemany(
                "INSERT INTO articles VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(a["id"], a["url"], a["title"], a["text"], a["hash"]) for a, _ in results],
            )
            conn.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)", [c for _, chunks in results for c in chunks]
            )
            conn.commit()
            stored += len(results)
    conn.close()
    return stored
