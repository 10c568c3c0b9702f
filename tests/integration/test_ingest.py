"""The real ingest flow, under Prefect, against the loopback news site, into a real DuckDB file."""

from pathlib import Path

import pytest

from tests.support.site import FEED_ETAG
from upscway.errors import InputError
from upscway.flows.context import COMPLETED_WITH_FAILURES
from upscway.flows.ingest import ingest
from upscway.storage.store import Store


def _store(env: Path) -> Store:
    return Store(env / "data" / "upscway.duckdb")


def _rows(store: Store, query: str, *params):
    with store.reader() as conn:
        return conn.execute(query, list(params)).fetchall()


@pytest.fixture
def feeds_file(news_site, live_env) -> Path:
    path = live_env / "feeds.yaml"
    path.write_text(news_site.feeds_yaml)
    return path


@pytest.mark.parametrize("processes", [0, 2], ids=["threads", "worker-processes"])
def test_ingest_stores_good_pages_and_records_every_bad_case(news_site, live_env, feeds_file, monkeypatch, processes):
    monkeypatch.setenv("UPSCWAY_INGEST__PROCESSES", str(processes))
    state = ingest(feeds=str(feeds_file), return_state=True)

    assert state.is_completed() and state.name == COMPLETED_WITH_FAILURES
    summary = state.result()
    store = _store(live_env)
    stored = {url for (url,) in _rows(store, "SELECT canonical_url FROM articles")}
    assert stored == set(news_site.good)
    assert summary.articles == len(news_site.good)
    assert summary.duplicates == 1

    failures = {item: reason for item, reason in _rows(store, "SELECT item, reason FROM failures")}
    for url, words in news_site.bad.items():
        assert url in failures, f"no failure recorded for {url}"
        assert words in failures[url], (url, failures[url])
    assert summary.failures == len(failures) == len(news_site.bad)

    # Every URL the feeds listed ends in the frontier with its outcome: stored, alias, retrying
    # (a 503, a timeout: tried again on a later run) or failed for good, with the reason.
    states = {url: (state, reason) for url, state, reason in _rows(store, "SELECT url, state, reason FROM frontier")}
    assert {u for u, (st, _) in states.items() if st == "stored"} == set(news_site.good)
    assert {u for u, (st, _) in states.items() if st == "alias"} == set(news_site.duplicate_urls)
    bad_pages = {u: words for u, words in news_site.bad.items() if "/feeds/" not in u}
    retrying = {u for u, (st, _) in states.items() if st == "retrying"}
    assert retrying == {u for u, words in bad_pages.items() if words in ("HTTP 503", "timed out")}
    assert {u for u, (st, _) in states.items() if st == "failed"} == set(bad_pages) - retrying
    assert all(bad_pages[u] in reason for u, (st, reason) in states.items() if st in ("failed", "retrying"))
    assert len(states) == len(news_site.good) + len(news_site.duplicate_urls) + len(bad_pages)

    # The syndicated copy is an alias of the original, not a second article.
    (alias_target,) = _rows(store, "SELECT article_id FROM article_aliases WHERE url = ?", news_site.duplicate_urls[0])[
        0
    ]
    (original,) = _rows(store, "SELECT id FROM articles WHERE canonical_url LIKE '%/original.ece'")[0]
    assert alias_target == original

    # Extraction: the windows-1252 page decodes correctly; page chrome is gone.
    (solar,) = _rows(store, "SELECT text FROM articles WHERE canonical_url LIKE '%cote-divoire%'")[0]
    assert "Côte d’Ivoire" in solar and "€40 million" in solar and "“South–South”" in solar
    texts = " ".join(t for (t,) in _rows(store, "SELECT text FROM articles"))
    for chrome in ("Advertisement", "reader_2041", "Related stories", "All rights reserved", "ALSO READ"):
        assert chrome not in texts
    (title, published, site_name) = _rows(
        store, "SELECT title, published_date, site_name FROM articles WHERE canonical_url LIKE '%story-0.ece'"
    )[0]
    assert title and published is not None and site_name

    # Every article is chunked, and every chunk is the slice of its article that its offsets name.
    orphans = _rows(
        store, "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.article_id = a.id)"
    )
    assert orphans == [(0,)]
    mismatched = _rows(
        store,
        "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id "
        "WHERE substr(a.text, c.char_start + 1, c.char_end - c.char_start) <> c.text",
    )
    assert mismatched == [(0,)]

    # Politeness: our User-Agent on every request, robots.txt read once per process, the
    # disabled source untouched.
    assert all("UPSCWayBot" in r.headers.get("User-Agent", "") for r in news_site.server.requests)
    assert 1 <= len(news_site.server.hits("/robots.txt")) <= 1 + processes
    assert news_site.server.hits("/feeds/never.rss") == []
    assert not (live_env / "data" / "staging" / summary.run_id).exists()


def test_second_ingest_stores_nothing_new_and_uses_conditional_get(news_site, live_env, feeds_file):
    ingest(feeds=str(feeds_file), return_state=True)
    store = _store(live_env)
    before = _rows(
        store,
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM chunks), (SELECT count(*) FROM article_aliases)",
    )
    good_paths = ["/news/national/story-0.ece", "/world/item-0", "/syndication/partner-copy.ece"]

    second = ingest(feeds=str(feeds_file), return_state=True).result()

    assert (
        _rows(
            store,
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM chunks), (SELECT count(*) FROM article_aliases)",
        )
        == before
    )
    assert second.articles == 0 and second.chunks == 0
    feed_hits = news_site.server.hits("/feeds/national.rss")
    assert len(feed_hits) == 2
    assert feed_hits[1].headers.get("If-None-Match") == FEED_ETAG and feed_hits[1].status == 304
    # Stored pages and known duplicates are not fetched again (the Atom feed has no ETag, so its
    # entries are listed again and skipped as already stored).
    for path in good_paths:
        assert len(news_site.server.hits(path)) == 1, path
    assert _rows(store, "SELECT count(*) FROM flow_runs WHERE status = 'completed_with_failures'") == [(2,)]


def test_source_and_limit_and_what_the_limit_left_is_fetched_next_time(news_site, live_env, feeds_file):
    summary = ingest(feeds=str(feeds_file), source="test-world", limit=2, return_state=True).result()

    assert summary.new_urls == 3 and summary.fetched == 2 and summary.articles == 2
    assert news_site.server.hits("/feeds/national.rss") == []
    assert _rows(_store(live_env), "SELECT state, count(*) FROM frontier GROUP BY ALL ORDER BY ALL") == [
        ("pending", 1),
        ("stored", 2),
    ]

    rest = ingest(feeds=str(feeds_file), source="test-world", return_state=True).result()
    assert rest.new_urls == 0 and rest.fetched == 1 and rest.articles == 1


def test_profile_that_forbids_private_addresses_refuses_loopback(news_site, live_env, feeds_file, monkeypatch):
    monkeypatch.setenv("UPSCWAY_INGEST__ALLOW_PRIVATE_NETWORKS", "[]")

    state = ingest(feeds=str(feeds_file), source="test-world", return_state=True)

    assert state.name == COMPLETED_WITH_FAILURES
    store = _store(live_env)
    assert _rows(store, "SELECT count(*) FROM articles") == [(0,)]
    reasons = [r for (r,) in _rows(store, "SELECT reason FROM failures WHERE stage = 'feed'")]
    assert reasons and all("non-public address 127.0.0.1" in r for r in reasons)
    assert news_site.server.requests == []


def test_bad_feeds_file_fails_the_run_with_a_clear_error(live_env):
    bad = live_env / "bad.yaml"
    bad.write_text("sources:\n  - name: Bad Name\n    feeds: 3\n")

    state = ingest(feeds=str(bad), return_state=True)

    assert state.is_failed()
    with pytest.raises(InputError, match="bad.yaml"):
        state.result()
    (status,) = _rows(_store(live_env), "SELECT status FROM flow_runs")[0]
    assert status == "failed"
