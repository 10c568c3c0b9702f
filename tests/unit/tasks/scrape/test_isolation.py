"""One bad link, page or feed entry is that item's failure, never its batch's: each kind of
item found to break a fetcher, a decoder, an extractor or a feed parser is planted among good
pages on a loopback news site, and the good pages are all staged."""

import pytest

from tests.support.newsserver import NewsServer, Route
from tests.support.site import demo_pages, rss
from upscway.settings import ChunkSettings, IngestSettings
from upscway.storage.staging import StagedBatch
from upscway.tasks.resources import RunResources
from upscway.tasks.scrape.feeds import parse_feed
from upscway.tasks.scrape.pages import PageRequest, scrape_batch

# (URL, words the failure says, transient)
BAD_LINKS = [
    ("http://" + "a" * 64 + ".example/story", "invalid URL: UnicodeError", False),  # an IDNA label over 63 characters
    ("http://[::1/story", "invalid URL", False),  # a broken IPv6 literal
    ("http://exa\x00mple.com/story", "invalid URL", False),  # a control character in the host
]


@pytest.fixture
def resources():
    """A run's resources, closed when the test ends."""
    shared = RunResources()
    yield shared
    shared.close()


@pytest.fixture
def site():
    with NewsServer() as server:
        for i, page in enumerate(demo_pages()[:9]):
            server.routes[f"/good/{i}.html"] = Route(page.read_bytes())
        server.routes["/to-file"] = Route(status=302, headers={"Location": "file:///etc/passwd"})
        server.routes["/binary"] = Route(bytes(range(256)) * 64, content_type="text/html")
        server.routes["/latin1"] = Route(
            b"<html><body><p>" + "Caf\xe9 ".encode("latin-1") * 10 + b"</p></body></html>",
            content_type="text/html; charset=utf-16",
        )
        server.routes["/empty"] = Route(b"")
        yield server


def test_each_bad_item_fails_alone_and_every_good_page_is_staged(site, tmp_path, resources):
    settings = IngestSettings(respect_robots=True, allow_private_networks=["127.0.0.1/32"], fetch_concurrency=4)
    good = [PageRequest(site.url(f"/good/{i}.html"), "s") for i in range(9)]
    planted = [PageRequest(url, "s") for url, _, _ in BAD_LINKS] + [
        PageRequest(site.url(p), "s") for p in ("/to-file", "/binary", "/latin1", "/empty")
    ]
    requests = good[:3] + planted[:4] + good[3:6] + planted[4:] + good[6:]
    staged = StagedBatch(tmp_path / "batch")
    outcome = scrape_batch(requests, settings, ChunkSettings(), staged, resources)

    assert outcome.articles == 9 and outcome.pages == len(requests)
    assert {a["canonical_url"] for a in staged.rows("articles")} == {r.url for r in good}
    failures = {f.item: f for f in staged.failures()}
    assert set(failures) == {r.url for r in planted}
    for url, words, transient in BAD_LINKS:
        assert words in failures[url].reason and failures[url].transient is transient
    to_file = failures[site.url("/to-file")]
    assert (
        "refused scheme 'file'" in to_file.reason and not to_file.transient
    )  # permanent, not "robots.txt unreachable"
    assert all(not failures[site.url(p)].transient for p in ("/binary", "/latin1", "/empty"))


def test_a_feed_entry_whose_link_no_parser_accepts_drops_that_entry_only():
    items = [(f"Story {i}", f"https://news.example/{i}") for i in range(9)] + [
        ("Broken IPv6", "http://[::1/x"),
        ("Port out of range", "https://news.example:99999/x"),
    ]
    parsed = parse_feed(rss(items), "https://news.example/feed.rss", "application/rss+xml")
    assert [e.url for e in parsed.entries] == [f"https://news.example/{i}" for i in range(9)]
