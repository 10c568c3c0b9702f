import time

import pytest

from tests.support.site import SNAPSHOT
from upscway.tasks.scrape.fetch import FetchError, HostRateLimiter, SnapshotFetcher
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
