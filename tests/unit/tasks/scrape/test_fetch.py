import gzip
import socket
import time
import tracemalloc
import zlib

import pytest

from tests.support.newsserver import NewsServer, Route
from tests.support.site import SNAPSHOT
from upscway.settings import IngestSettings
from upscway.tasks.scrape.fetch import FetchError, HostRateLimiter, HttpFetcher, SnapshotFetcher
from upscway.tasks.scrape.pages import PageRequest
from upscway.tasks.scrape.steps import _share_rate_limits


def test_rate_limiter_spaces_requests_to_one_host_but_not_across_hosts():
    limiter = HostRateLimiter()
    start = time.monotonic()
    for _ in range(5):
        limiter.wait("a.in", 20.0)
    assert time.monotonic() - start >= 4 / 20 - 0.01
    start = time.monotonic()
    for host in ("b.in", "c.in", "d.in"):
        limiter.wait(host, 1.0)
    assert time.monotonic() - start < 0.1
    start = time.monotonic()
    for _ in range(50):
        limiter.wait("e.in", 0)  # 0 = unlimited
    assert time.monotonic() - start < 0.1


def test_worker_processes_share_a_hosts_rate_between_them():
    shared = _share_rate_limits([PageRequest("https://a.in/1", "s", 1.0), PageRequest("https://a.in/2", "s", None)], 4)
    assert [r.rate_limit_per_s for r in shared] == [0.25, None]


def test_snapshot_fetcher_maps_urls_to_saved_files():
    fetcher = SnapshotFetcher(SNAPSHOT)
    feed = fetcher.fetch("https://pib.gov.in/RssMain.aspx?ModId=6&Lang=1&Regid=3")
    assert feed.content_type == "application/xml" and b"<rss" in feed.content
    page = fetcher.fetch("https://indianexpress.com/section/explained/feed/")
    assert b"<rss" in page.content
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher.fetch("https://www.thehindu.com/no/such/page.ece")
    with pytest.raises(FetchError, match="outside the snapshot"):
        fetcher.fetch("https://www.thehindu.com/../../etc/passwd")


# The HTTP fetcher's hard limits, against a real server on 127.0.0.1.

PAGE = b"<html><body><article><p>" + b"A page of news. " * 50 + b"</p></article></body></html>"


@pytest.fixture
def server():
    with NewsServer() as s:
        yield s


def _fetcher(**settings) -> HttpFetcher:
    defaults = {"allow_private_networks": ["127.0.0.1/32"], "respect_robots": False, "timeout_s": 2}
    return HttpFetcher(IngestSettings(**{**defaults, **settings}))


def test_a_trickling_response_is_cut_at_its_deadline(server):
    server.routes["/trickle"] = Route(PAGE, trickle_s=0.05)  # one byte every 50 ms: a minute for the page
    fetcher = _fetcher(timeout_s=1)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out after 1s") as refused:
        fetcher.fetch(server.url("/trickle"))
    assert time.monotonic() - started < 15  # the deadline (1 s) plus a loaded machine's slack, not the minute
    assert refused.value.transient


def _gzip_bomb(decoded_mib: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(decoded_mib)) + packer.flush()


def test_a_gzip_bomb_is_refused_with_memory_near_the_cap(server):
    bomb = _gzip_bomb(256)  # 256 MiB of zeros in about 250 KB
    server.routes["/bomb"] = Route(bomb, headers={"Content-Encoding": "gzip"})
    server.routes["/fine"] = Route(gzip.compress(PAGE), headers={"Content-Encoding": "gzip"})
    fetcher = _fetcher(max_bytes=2_000_000)
    assert fetcher.fetch(server.url("/fine")).content == PAGE
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="too large"):
            fetcher.fetch(server.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * 2_000_000, f"peak {peak / 1e6:.1f} MB while refusing a bomb with a 2 MB cap"


def test_statuses_that_may_pass_are_transient_and_others_are_not(server):
    fetcher = _fetcher()
    for status, transient in (
        (503, True),
        (500, True),
        (429, True),
        (408, True),
        (404, False),
        (410, False),
        (403, False),
    ):
        server.routes[f"/s{status}"] = Route(b"no", status=status)
        with pytest.raises(FetchError, match=f"HTTP {status}") as failed:
            fetcher.fetch(server.url(f"/s{status}"))
        assert failed.value.transient is transient, status


def test_the_connection_goes_to_the_address_the_policy_vetted(server, monkeypatch):
    """DNS rebinding: the name first resolves to an allowed address, then to the metadata
    service. One lookup per connection means the second answer is never used."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "169.254.169.254", "169.254.169.254"])
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        if host != "news.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return real(next(answers), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    server.routes["/story"] = Route(PAGE)
    response = _fetcher().fetch(f"http://news.test:{server.port}/story")
    assert response.status == 200 and response.content == PAGE
    assert lookups == ["news.test"]
    assert server.hits("/story")


def test_a_redirect_to_a_forbidden_address_is_refused_at_that_hop(server):
    server.routes["/jump"] = Route(status=302, headers={"Location": "http://[::ffff:169.254.169.254]/latest/meta-data"})
    with pytest.raises(FetchError, match="forbidden address.*169.254.169.254") as refused:
        _fetcher().fetch(server.url("/jump"))
    assert not refused.value.transient
