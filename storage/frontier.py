"""The durable frontier: every discovered URL, recorded as pending before it is fetched, and
moved to stored, alias, retrying (with its next attempt time), failed or given up.

A run that dies between discovering a URL and storing its page leaves it pending, and the
next run fetches it: nothing a feed listed once is lost when the feed moves on or answers 304.
A run claims the URLs it is about to fetch, so two runs at once never fetch one page twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from upscway.records import Failure
from upscway.storage.statements import sql


@dataclass(frozen=True)
class Discovered:
    """A URL to fetch: its source, and for a saved page the file that holds it."""

    url: str
    source: str
    local_path: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures are retried after base_s, 2*base_s, 4*base_s, ... and given up at
    the `max_attempts`-th failed attempt."""

    max_attempts: int
    base_s: float


def discover(conn: duckdb.DuckDBPyConnection, found: Iterable[Discovered], discovered_by: str | Iterable[str]) -> None:
    """Record new URLs as pending; URLs already known keep their state."""
    found = list(found)
    if not found:
        return
    by = [discovered_by] * len(found) if isinstance(discovered_by, str) else list(discovered_by)
    conn.execute(
        sql("frontier", "discover"),
        {
            "urls": [d.url for d in found],
            "sources": [d.source for d in found],
            "local_paths": [d.local_path for d in found],
            "discovered_by": by,
        },
    )


def known(conn: duckdb.DuckDBPyConnection, urls: list[str]) -> set[str]:
    """Those of `urls` already in the frontier, in any state."""
    if not urls:
        return set()
    return {url for (url,) in conn.execute(sql("frontier", "known"), [urls]).fetchall()}


def claim_due(
    conn: duckdb.DuckDBPyConnection, run_id: str, sources: list[str] | None, limit: int | None
) -> list[Discovered]:
    """Pending URLs and retrying ones whose time has come (of `sources`, or all) that no other
    live run has claimed, oldest first, now claimed by `run_id`. Call in a write transaction."""
    rows = conn.execute(sql("frontier", "claim_due"), {"run_id": run_id, "sources": sources, "limit": limit}).fetchall()
    return [Discovered(url, source, path) for url, source, path, _ in sorted(rows, key=lambda r: (r[3], r[0]))]


def claim_unfinished(conn: duckdb.DuckDBPyConnection, run_id: str, urls: list[str]) -> set[str]:
    """Those of `urls` that are neither stored nor an alias nor another live run's, now claimed
    by `run_id`."""
    if not urls:
        return set()
    return {
        url for (url,) in conn.execute(sql("frontier", "claim_unfinished"), {"run_id": run_id, "urls": urls}).fetchall()
    }


def settle(conn: duckdb.DuckDBPyConnection, urls: list[str]) -> None:
    """Pages now stored, as an article or as an alias of one (their state says which)."""
    if urls:
        conn.execute(sql("frontier", "settle"), [urls])


def fail(conn: duckdb.DuckDBPyConnection, failures: Iterable[Failure], policy: RetryPolicy) -> None:
    """Failed attempts of frontier URLs (other items are not in the frontier and are ignored)."""
    failures = list(failures)
    if failures:
        conn.execute(
            sql("frontier", "fail"),
            {
                "urls": [f.item for f in failures],
                "reasons": [f.reason[:2000] for f in failures],
                "transient": [f.transient for f in failures],
                "max_attempts": policy.max_attempts,
                "base_s": policy.base_s,
            },
        )
