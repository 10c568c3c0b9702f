import gzip
from datetime import date

import pytest

from tests.support.sitemaps import sitemapindex, urlset
from upscway.errors import InputError
from upscway.tasks.scrape.fetch import FetchError, Response
from upscway.tasks.scrape.inputs import read_url_list, saved_pages
from upscway.tasks.scrape.sitemaps import parse_sitemap, scan_sitemaps


class DictFetcher:
    """Documents by URL; the sitemap logic needs nothing else from a fetcher."""

    def __init__(self, documents):
        self.documents = documents
        self.fetched = []

    def fetch(self, url, **_):
        self.fetched.append(url)
        if url not in self.documents:
            raise FetchError("HTTP 404")
        return Response(url, url, 200, self.documents[url])

    def close(self):
        pass


def test_parse_urlset_with_lastmod_and_news_dates():
    kind, entries = parse_sitemap(urlset([("https://x.in/a", "2026-11-01"), ("https://x.in/b", None)]))
    assert kind == "urlset" and entries == [("https://x.in/a", date(2026, 11, 1)), ("https://x.in/b", None)]
    kind, entries = parse_sitemap(gzip.compress(urlset([("https://x.in/n", "2026-10-05")], news=True)))
    assert entries == [("https://x.in/n", date(2026, 10, 5))]


def test_scan_follows_index_filters_dates_and_skips_old_child_sitemaps():
    fetcher = DictFetcher(
        {
            "https://x.in/index.xml": sitemapindex(
                [
                    ("https://x.in/2026-11.xml", "2026-11-30"),
                    ("https://x.in/2026-01.xml", "2026-01-31"),
                    ("https://x.in/gone.xml", None),
                ]
            ),
            "https://x.in/2026-11.xml": urlset(
                [
                    ("https://x.in/a?utm_source=s", "2026-11-02"),
                    ("https://x.in/b", "2026-11-20"),
                    ("https://x.in/c", None),
                    ("https://x.in/d", "2026-10-31"),
                ]
            ),
            "https://x.in/2026-01.xml": urlset([("https://x.in/old", "2026-01-10")]),
        }
    )
    scan = scan_sitemaps(fetcher, ["https://x.in/index.xml"], date(2026, 11, 1), date(2026, 11, 15))

    assert scan.urls == ["https://x.in/a"]
    assert scan.undated == 1
    assert "https://x.in/2026-01.xml" not in fetcher.fetched
    assert scan.failures == [("https://x.in/gone.xml", "HTTP 404")]


def test_malformed_sitemap_is_a_failure():
    fetcher = DictFetcher({"https://x.in/s.xml": b"<urlset><url><loc>https://x.in/a</lo"})
    scan = scan_sitemaps(fetcher, ["https://x.in/s.xml"], date(2026, 1, 1), date(2026, 12, 31))
    assert scan.urls == [] and "malformed sitemap" in scan.failures[0][1]


def test_url_list_skips_comments_and_counts_bad_lines(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text("# archive\nhttps://x.in/a?utm_source=x\n\nnot a url\nhttps://x.in/a\nftp://x.in/f\n")
    urls, not_urls = read_url_list(path)
    assert urls == ["https://x.in/a"]
    assert not_urls == 2


@pytest.mark.parametrize(
    "name, words",
    [
        ("missing.txt", "URL list .* does not exist"),
        (".", "is a folder, not a file"),
        ("/dev/zero", "is not a regular file"),
    ],
)
def test_unreadable_url_list_is_an_input_error(tmp_path, name, words):
    with pytest.raises(InputError, match=words):
        read_url_list(tmp_path / name)


def test_saved_pages_use_their_canonical_link(tmp_path):
    (tmp_path / "plain.html").write_text("<html><body><p>x</p></body></html>")
    (tmp_path / "canon.htm").write_text(
        '<html><head><link rel="canonical" href="https://x.in/story?utm_source=a"></head></html>'
    )
    found = dict((p.name, u) for u, p in saved_pages(tmp_path))
    assert found["canon.htm"] == "https://x.in/story"
    assert found["plain.html"].startswith("file://")


def test_saved_pages_needs_a_folder(tmp_path):
    with pytest.raises(InputError, match="is not a folder"):
        saved_pages(tmp_path / "nope")
