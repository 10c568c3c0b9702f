"""The real backfill flow: sitemaps by date, a URL list, and a folder of saved pages."""

import shutil

import pytest

from tests.support.newsserver import Route
from tests.support.site import demo_pages
from tests.support.sitemaps import sitemapindex, urlset
from upscway.errors import InputError
from upscway.flows.backfill import BackfillInput, backfill
from upscway.flows.context import COMPLETED_WITH_FAILURES
from upscway.flows.ingest import ingest
from upscway.outcomes import describe
from upscway.storage.store import Store


def _rows(env, query):
    with Store(env / "data" / "upscway.duckdb").reader() as conn:
        return conn.execute(query).fetchall()


def test_sitemap_backfill_fetches_only_the_requested_days(news_site, live_env):
    server = news_site.server
    pages = demo_pages()
    for i in range(4):
        server.routes[f"/archive/{i}.ece"] = Route(pages[i].read_bytes())
    server.routes["/sitemap-index.xml"] = Route(
        sitemapindex([(server.url("/sitemap-2026-11.xml"), "2026-11-30")]), content_type="application/xml"
    )
    server.routes["/sitemap-2026-11.xml"] = Route(
        urlset([(server.url(f"/archive/{i}.ece"), f"2026-11-0{i + 1}") for i in range(4)], news=True),
        content_type="application/xml",
    )
    feeds = live_env / "feeds.yaml"
    feeds.write_text(
        f'sources:\n  - name: archive\n    sitemaps: ["{server.url("/sitemap-index.xml")}"]\n    rate_limit_per_s: 0\n'
    )

    summary = backfill(
        BackfillInput(source="archive", since="2026-11-02", until="2026-11-03", feeds=str(feeds)), return_state=True
    ).result()

    assert summary.articles == 2 and summary.failures == 0
    assert sorted(u for (u,) in _rows(live_env, "SELECT canonical_url FROM articles")) == [
        server.url("/archive/1.ece"),
        server.url("/archive/2.ece"),
    ]
    assert _rows(live_env, "SELECT DISTINCT source FROM articles") == [("archive",)]
    assert server.hits("/archive/0.ece") == [] and server.hits("/archive/3.ece") == []


def test_url_list_backfill_counts_lines_that_are_not_urls_and_stores_none_of_their_text(news_site, live_env):
    server = news_site.server
    urls = live_env / "urls.txt"  # a list with a secret pasted into it, as a `.env` named by mistake would be
    urls.write_text(
        f"{server.url('/news/national/story-0.ece')}\nnot-a-url\nAPI_KEY=sk-live-0123456789\n{server.url('/news/gone.ece')}\n"
    )

    state = backfill(BackfillInput(urls=str(urls)), return_state=True)

    assert state.name == COMPLETED_WITH_FAILURES and state.result().not_urls == 2
    assert "2 of the URL list's lines not URLs (counted, their text not stored)" in describe(state.result())
    assert _rows(live_env, "SELECT canonical_url, source FROM articles") == [
        (server.url("/news/national/story-0.ece"), "local")
    ]
    assert _rows(live_env, "SELECT stage, item FROM failures") == [("page", server.url("/news/gone.ece"))]
    stored = _rows(
        live_env,
        "SELECT string_agg(f::VARCHAR, ' ') FROM failures f UNION ALL SELECT string_agg(r::VARCHAR, ' ') FROM flow_runs r"
        " UNION ALL SELECT string_agg(q::VARCHAR, ' ') FROM frontier q",
    )
    assert not any("sk-live" in (text or "") or "not-a-url" in (text or "") for (text,) in stored)


def test_saved_pages_deduplicate_against_the_same_articles_ingested_from_feeds(tmp_path, monkeypatch):
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "data"))
    saved = tmp_path / "saved"
    saved.mkdir()
    for page in demo_pages()[:3]:
        shutil.copy(page, saved / f"{page.parent.name}-{page.name.replace('@', '_')}.html")

    first = backfill(BackfillInput(html_dir=str(saved)), return_state=True).result()
    again = backfill(BackfillInput(html_dir=str(saved)), return_state=True).result()
    assert first.articles == 3 and again.new_urls == 0 and again.articles == 0
    stored = {u for (u,) in _rows(tmp_path, "SELECT canonical_url FROM articles")}
    assert all(u.startswith("https://") for u in stored)  # keyed by each page's canonical link

    # The demo profile reads the same pages (among others) from its snapshot, through feeds.
    demo = ingest(return_state=True).result()
    assert demo.new_urls == demo.articles + demo.duplicates  # the 3 saved ones are not fetched again
    distinct_demo_articles = len(demo_pages())
    assert demo.articles == distinct_demo_articles - 3
    assert _rows(tmp_path, "SELECT count(*) FROM articles") == [(distinct_demo_articles,)]


@pytest.mark.parametrize(
    "args, message",
    [
        ({}, "exactly one of"),
        ({"since": "2026-01-01"}, "--source"),
        ({"source": "a", "since": "2026-13-01"}, "not a date"),
        ({"source": "a", "since": "2026-02-01", "until": "2026-01-01"}, "before --since"),
        ({"urls": "u.txt", "html_dir": "d"}, "got --urls, --html-dir"),
    ],
)
def test_backfill_arguments_are_checked(args, message):
    full = {"source": None, "since": None, "until": None, "urls": None, "html_dir": None, **args}
    with pytest.raises(InputError, match=message):
        BackfillInput(**full).check()
