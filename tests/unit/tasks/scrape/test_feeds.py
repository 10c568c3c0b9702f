import pytest

from tests.support.site import atom, rss
from upscway.errors import InputError
from upscway.resources import DEPLOYMENTS_DIR
from upscway.tasks.scrape.extract import extract_article
from upscway.tasks.scrape.feeds import load_sources, parse_feed
from upscway.tasks.scrape.fetch import SnapshotFetcher

REQUIRED_SITES = ["thehindu.com", "indianexpress.com", "pib.gov.in", "downtoearth.org.in", "livemint.com"]


def test_shipped_feeds_file_lists_the_required_sources():
    sources = load_sources(DEPLOYMENTS_DIR / "feeds.yaml").sources
    urls = " ".join(u for s in sources for u in s.feeds)
    for site in REQUIRED_SITES:
        assert site in urls
    hindu = " ".join(u for s in sources if s.name.startswith("the-hindu") for u in s.feeds)
    for section in ("national", "international", "business", "sci-tech", "editorial"):
        assert section in hindu
    assert all(s.language and s.rate_limit_per_s > 0 for s in sources)


def test_demo_feeds_file_is_valid():
    assert len(load_sources(DEPLOYMENTS_DIR / "demo" / "feeds.yaml").select()) >= 5


@pytest.mark.parametrize("day", ["snapshot", "snapshot-drift", "snapshot-drift-next"])
def test_demo_wire_is_the_demo_sources_plus_real_news_each_day(day):
    """`make demo` reads feeds-wire.yaml: the tests' sources unchanged, plus a wire whose every
    item in each day's snapshot (every tenth is read) is a saved page with its real text and attribution."""
    demo = load_sources(DEPLOYMENTS_DIR / "demo" / "feeds.yaml").sources
    with_wire = load_sources(DEPLOYMENTS_DIR / "demo" / "feeds-wire.yaml").sources
    assert with_wire[: len(demo)] == demo and [s.name for s in with_wire[len(demo) :]] == ["huffpost-wire"]
    fetcher = SnapshotFetcher(DEPLOYMENTS_DIR / "demo" / day)
    feed = fetcher.fetch(with_wire[-1].feeds[0])
    parsed = parse_feed(feed.content, feed.url)
    entries = parsed.entries
    assert parsed.problem is None
    assert len(entries) >= 250
    for entry in entries[:: len(entries) // 10]:
        page = fetcher.fetch(entry.url)
        article = extract_article(page.content, entry.url, min_chars=20)
        assert article.title and "CC BY 4.0" in page.content.decode()


@pytest.mark.parametrize(
    "content, message",
    [
        ("sources: [", "not valid YAML"),
        ("sources:\n  - name: X Y\n    feeds: []\n", "sources.0.name"),
        ("sources:\n  - name: a\n    feds: []\n", "feds"),
        ("sources:\n  - name: a\n  - name: a\n", "more than once: a"),
        ("sources:\n  - name: a\n    rate_limit_per_s: -1\n", "rate_limit_per_s"),
    ],
)
def test_bad_feeds_file_is_an_input_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "feeds.yaml"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        load_sources(path)
    assert str(path) in str(err.value)


def test_missing_feeds_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_sources(tmp_path / "nope.yaml")


def test_select_by_name_and_unknown_name(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("sources:\n  - name: a\n  - name: b\n    enabled: false\n")
    parsed = load_sources(path)
    assert [s.name for s in parsed.select()] == ["a"]
    assert [s.name for s in parsed.select("b")] == ["b"]
    with pytest.raises(InputError, match="no source named 'c'"):
        parsed.select("c")


def test_rss_and_atom_entries_are_canonical_and_deduplicated():
    items = [("One", "https://x.in/a?utm_source=rss"), ("One again", "https://x.in/a#top"), ("Two", "https://x.in/b")]
    for document in (rss(items), atom(items)):
        parsed = parse_feed(document, "https://x.in/feed")
        assert parsed.problem is None
        assert [e.url for e in parsed.entries] == ["https://x.in/a", "https://x.in/b"]
        assert parsed.entries[0].published == "2026-11-20"


def test_relative_links_resolve_against_the_feed_url():
    parsed = parse_feed(rss([("Rel", "/news/rel.ece")]), "https://x.in/feeds/main.rss")
    assert [e.url for e in parsed.entries] == ["https://x.in/news/rel.ece"]


def test_malformed_feed_is_a_problem_but_keeps_recoverable_entries():
    broken = rss([("Good", "https://x.in/good")]).replace(b"</channel></rss>", b"<item><title>bad</ti")
    parsed = parse_feed(broken, "https://x.in/feed")
    assert parsed.problem and parsed.problem.startswith("malformed feed")
    assert [e.url for e in parsed.entries] == ["https://x.in/good"]


def test_html_page_is_not_a_feed():
    parsed = parse_feed(b"<html><body><p>Hello</p></body></html>", "https://x.in/feed")
    assert parsed.entries == [] and parsed.problem
