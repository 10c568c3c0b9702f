"""The test news site: the demo's saved article pages re-served on 127.0.0.1 through RSS 2.0
and Atom feeds, plus one route for every kind of bad input the scraper must survive."""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.newsserver import NewsServer, Route
from tools import demo_news
from upscway.resources import DEPLOYMENTS_DIR

SNAPSHOT = DEPLOYMENTS_DIR / "demo" / "snapshot"
GENERATED, MARKER = demo_news.GENERATOR.encode(), demo_news.MARKER.encode()
FEED_ETAG = '"national-v1"'
FEED_LAST_MODIFIED = "Fri, 20 Nov 2026 03:00:00 GMT"


def demo_pages() -> list[Path]:
    """The bundled hand-written article pages (feeds, the syndicated copy and the pages
    `tools/demo_news.py` generated excluded), in a stable order."""
    pages, titles = [], set()
    for path in sorted(SNAPSHOT.rglob("*")):
        content = path.read_bytes() if path.is_file() else b""
        title = content.split(b"<title>")[-1].split(b"</title>")[0]
        if b"<article" in content and GENERATED not in content and title not in titles:
            titles.add(title)
            pages.append(path)
    return pages


def handwritten_snapshot(dest: Path) -> Path:
    """A copy of the demo snapshot without the pages `tools/demo_news.py` generated (their items
    cut from the feeds), so the tests read the eighteen hand-written pages they were written for."""

    def generated(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if (Path(folder) / n).is_file() and GENERATED in (Path(folder) / n).read_bytes()}

    shutil.copytree(SNAPSHOT, dest, ignore=generated)
    for feed in dest.rglob("*"):
        text = feed.read_bytes() if feed.is_file() else b""
        if MARKER in text:
            head, _, tail = text.partition(MARKER)
            closing = b"</feed>" if b"</feed>" in tail else b"  </channel>\n</rss>"
            feed.write_bytes(head + closing + b"\n")
    return dest


def rss(items: list[tuple[str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{html.escape(t)}</title><link>{html.escape(u)}</link>"
        f"<pubDate>Fri, 20 Nov 2026 03:00:00 GMT</pubDate></item>"
        for t, u in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Test national</title>'
        f"<link>http://127.0.0.1/</link><description>test</description>{entries}</channel></rss>"
    ).encode()


def atom(items: list[tuple[str, str]]) -> bytes:
    entries = "".join(
        f'<entry><title>{html.escape(t)}</title><link rel="alternate" href="{html.escape(u)}"/>'
        f"<id>{html.escape(u)}</id><updated>2026-11-20T03:00:00Z</updated></entry>"
        for t, u in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Test world</title>'
        f"<id>urn:test:world</id><updated>2026-11-20T03:00:00Z</updated>{entries}</feed>"
    ).encode()


CP1252_PAGE = (
    "<html><head><title>Côte d’Ivoire signs solar pact</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article><h1>Côte d’Ivoire signs solar pact with India</h1>"
    "<p>India and Côte d’Ivoire signed an agreement on Tuesday under which the International Solar Alliance will help "
    "the West African nation build solar mini-grids for villages that are not connected to the national grid.</p>"
    "<p>The project, costing about €40 million, will be financed through concessional lines of credit from the "
    "Export-Import Bank of India, officials said, and will train local technicians to maintain the installations.</p>"
    "<p>The “South–South” partnership builds on India’s development cooperation in Africa, which includes capacity "
    "building under the ITEC programme and lines of credit for infrastructure, agriculture and health.</p>"
    "</article><footer>© 2026</footer></body></html>"
)


@dataclass
class Site:
    server: NewsServer
    good: dict[str, str] = field(default_factory=dict)  # canonical URL -> expected title fragment
    bad: dict[str, str] = field(default_factory=dict)  # URL -> expected words in the failure reason
    duplicate_urls: list[str] = field(default_factory=list)
    feeds_yaml: str = ""


def build_site(server: NewsServer, port_for_private: int | None = None) -> Site:
    """Register the routes and return what a correct ingest must store and record."""
    site = Site(server)
    pages = demo_pages()
    server.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")

    national: list[tuple[str, str]] = []
    for i, page in enumerate(pages[:6]):
        path = f"/news/national/story-{i}.ece"
        server.routes[path] = Route(page.read_bytes())
        # Feed links carry tracking parameters and fragments, as real feeds do.
        national.append((f"Story {i}", server.url(path) + "?utm_source=rss&utm_medium=feed#comments"))
        site.good[server.url(path)] = ""
    # A syndicated copy: the same page under two URLs.
    copy = pages[6].read_bytes()
    server.routes["/news/national/original.ece"] = Route(copy)
    server.routes["/syndication/partner-copy.ece"] = Route(copy)
    national += [
        ("Original", server.url("/news/national/original.ece")),
        ("Copy", server.url("/syndication/partner-copy.ece")),
    ]
    site.good[server.url("/news/national/original.ece")] = ""
    site.duplicate_urls.append(server.url("/syndication/partner-copy.ece"))
    # A permanent redirect to a real page is fine.
    server.routes["/old/moved.ece"] = Route(status=301, headers={"Location": "/news/national/moved-here.ece"})
    server.routes["/news/national/moved-here.ece"] = Route(pages[7].read_bytes())
    national.append(("Moved", server.url("/old/moved.ece")))
    site.good[server.url("/old/moved.ece")] = ""
    # A non-UTF-8 page.
    server.routes["/world/cote-divoire-solar.html"] = Route(
        CP1252_PAGE.encode("cp1252"), content_type="text/html; charset=windows-1252"
    )
    national.append(("Solar", server.url("/world/cote-divoire-solar.html")))
    site.good[server.url("/world/cote-divoire-solar.html")] = "Côte d’Ivoire"

    bad_routes = {
        "/news/gone.ece": (Route(b"<html><body>gone</body></html>", status=404), "HTTP 404"),
        "/news/error.ece": (Route(b"oops", status=503), "HTTP 503"),
        "/news/slow.ece": (Route(pages[8].read_bytes(), delay_s=3.0), "timed out"),
        "/loop/a": (Route(status=302, headers={"Location": "/loop/b"}), "redirect loop"),
        "/loop/b": (Route(status=302, headers={"Location": "/loop/a"}), None),
        "/news/huge.ece": (Route(b"<html><body>" + b"<p>padding</p>" * 40000 + b"</body></html>"), "too large"),
        "/docs/report.pdf": (Route(b"%PDF-1.4 fake", content_type="application/pdf"), "not an HTML page"),
        "/news/empty.ece": (
            Route(b"<html><body><nav><a href='/'>Home</a></nav><div class='ad'>Advertisement</div></body></html>"),
            "no extractable",
        ),
        "/private/internal.ece": (Route(pages[9].read_bytes()), "robots.txt"),
    }
    for path, (route, reason) in bad_routes.items():
        server.routes[path] = route
        if reason:
            national.append((path, server.url(path)))
            site.bad[server.url(path)] = reason
    # Resolves to a loopback address outside the profile's allowance (127.0.0.1/32).
    private = f"http://127.0.0.2:{port_for_private or server.port}/news/internal.ece"
    national.append(("Internal", private))
    site.bad[private] = "forbidden address"

    world = []
    for i, page in enumerate(pages[10:13]):
        path = f"/world/item-{i}"
        server.routes[path] = Route(page.read_bytes())
        world.append((f"World {i}", server.url(path)))
        site.good[server.url(path)] = ""

    server.routes["/feeds/national.rss"] = Route(
        rss(national), content_type="application/rss+xml", etag=FEED_ETAG, last_modified=FEED_LAST_MODIFIED
    )
    server.routes["/feeds/world.atom"] = Route(atom(world), content_type="application/atom+xml")
    server.routes["/feeds/broken.rss"] = Route(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title><item><title>x</ti',
        content_type="application/rss+xml",
    )
    server.routes["/feeds/slow.rss"] = Route(rss([]), delay_s=3.0, content_type="application/rss+xml")
    site.bad[server.url("/feeds/broken.rss")] = "malformed feed"
    site.bad[server.url("/feeds/missing.rss")] = "HTTP 404"
    site.bad[server.url("/feeds/slow.rss")] = "timed out"

    site.feeds_yaml = f"""sources:
  - name: test-national
    feeds: ["{server.url("/feeds/national.rss")}", "{server.url("/feeds/broken.rss")}", "{server.url("/feeds/missing.rss")}"]
    rate_limit_per_s: 0
  - name: test-world
    feeds: ["{server.url("/feeds/world.atom")}", "{server.url("/feeds/slow.rss")}"]
    rate_limit_per_s: 0
  - name: test-disabled
    feeds: ["{server.url("/feeds/never.rss")}"]
    enabled: false
"""
    return site
