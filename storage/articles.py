"""Sources, feed state, articles and their chunks.

Deduplication happens here, inside the loader's transaction: an article is new only when
neither its canonical URL nor its content hash is stored yet. A second URL carrying the same
text (a syndicated copy) becomes an alias of the first article, so it is never fetched again.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from upscway.records import Counts
from upscway.storage import frontier
from upscway.storage.frontier import RetryPolicy
from upscway.storage.runs import record_failures
from upscway.storage.staging import StagedBatch
from upscway.storage.statements import sql


@dataclass
class LoadCounts(Counts):
    articles: int = 0
    chunks: int = 0
    duplicates: int = 0
    already_stored: int = 0
    failures: int = 0

    def summary(self) -> dict[str, int]:
        """The counts a run reports (its failures are counted from the failures table)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "failures"}


@dataclass(frozen=True)
class FeedState:
    """What a feed's last response said, for the next conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


def upsert_sources(conn: duckdb.DuckDBPyConnection, languages: dict[str, str]) -> None:
    """Sources by name, with their language."""
    for name, language in languages.items():
        conn.execute(sql("articles", "upsert_source"), [name, language])


def feed_state(conn: duckdb.DuckDBPyConnection, url: str) -> FeedState:
    row = conn.execute(sql("articles", "feed_state"), [url]).fetchone()
    return FeedState(*row) if row else FeedState()


def save_feed_state(
    conn: duckdb.DuckDBPyConnection,
    url: str,
    source: str,
    status: int | None,
    etag: str | None,
    last_modified: str | None,
    entries: int | None,
) -> None:
    conn.execute(sql("articles", "upsert_feed"), [url, source, etag, last_modified, status, entries])


def known_urls(conn: duckdb.DuckDBPyConnection, urls: list[str]) -> set[str]:
    if not urls:
        return set()
    return {row[0] for row in conn.execute(sql("articles", "known_urls"), [urls, urls]).fetchall()}


def load_staged(conn: duckdb.DuckDBPyConnection, batch: StagedBatch, run_id: str, retry: RetryPolicy) -> LoadCounts:
    """Insert a staged batch, skipping URLs and texts already stored (also within the batch),
    and move its URLs in the frontier: stored, alias, or failed (retried per `retry`)."""
    counts = LoadCounts()
    staged = [(row["id"], row["canonical_url"], row["content_hash"]) for row in batch.rows("articles")]
    seen_urls = known_urls(conn, [url for _, url, _ in staged])
    by_hash = dict(conn.execute(sql("articles", "articles_by_hash"), [[h for _, _, h in staged]]).fetchall())
    accepted: list[str] = []
    alias_urls: list[str] = []
    alias_targets: list[str] = []
    for ident, url, digest in staged:
        if url in seen_urls:
            counts.already_stored += 1
        elif digest in by_hash:
            alias_urls.append(url)
            alias_targets.append(by_hash[digest])
            counts.duplicates += 1
        else:
            accepted.append(ident)
            by_hash[digest] = ident
        seen_urls.add(url)
    if accepted:
        conn.execute(
            sql("articles", "insert_staged_articles"),
            {"path": str(batch.file("articles")), "ids": accepted, "run_id": run_id},
        )
        conn.execute(sql("articles", "insert_staged_chunks"), {"path": str(batch.file("chunks")), "ids": accepted})
        counts.chunks = conn.execute(sql("articles", "count_chunks_of"), [accepted]).fetchone()[0]
    if alias_urls:
        conn.execute(sql("articles", "insert_aliases"), {"urls": alias_urls, "article_ids": alias_targets})
    counts.articles = len(accepted)
    frontier.settle(conn, [url for _, url, _ in staged])
    failures = batch.failures()
    frontier.fail(conn, failures, retry)
    counts.failures = record_failures(conn, run_id, failures)
    return counts
