"""Fetchers: polite HTTP for the live web, saved pages for the demo, tests and backfills.

Both implement `Fetcher.fetch(url, ...) -> Response` and raise `FetchError` with a reason a
person can act on; the pipeline never needs to know which one it has.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
import time
import urllib.robotparser
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from upscway.resources import resolve_project_file
from upscway.settings import IngestSettings
from upscway.tasks.scrape.transport import VettedTransport, deadline
from upscway.tasks.scrape.urls import AddressPolicy, ForbiddenAddress, UnresolvableHost, host_of

LOGGER = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({408, 429})
SCHEMES = frozenset({"http", "https"})


class FetchError(Exception):
    """A feed or page could not be fetched; `str()` is the reason stored in `failures`, and
    `transient` says whether a later attempt may succeed (5xx, 408, 429, timeouts, network)."""

    def __init__(self, reason: str, transient: bool = False):
        super().__init__(reason)
        self.transient = transient


@dataclass
class Response:
    url: str
    final_url: str
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Fetcher(Protocol):
    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        rate_limit_per_s: float | None = None,
    ) -> Response: ...

    def close(self) -> None: ...


class Fetchers(Protocol):
    """Where a run's steps get their fetcher: one per settings in a process, shared by its
    threads (robots.txt, per-host rate limits) and closed when the run ends
    (`tasks.resources.RunResources`)."""

    def fetcher(self, settings: IngestSettings) -> Fetcher: ...


class HostRateLimiter:
    """At most `rate` requests per second to each host, shared by all threads of a process."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str, rate: float | None) -> None:
        if not rate or rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + 1.0 / rate
        if slot > now:
            time.sleep(slot - now)


class HttpFetcher:
    """httpx with a deadline per response, a size cap on the decoded body, a clear User-Agent,
    robots.txt, an address policy enforced on every connection (redirect hops included),
    per-host rate limits and conditional GET.

    Environment proxies are not used: through a proxy the address policy could not hold.
    """

    def __init__(self, settings: IngestSettings):
        self.settings = settings
        self.limiter = HostRateLimiter()
        limits = httpx.Limits(max_connections=max(16, settings.fetch_concurrency * settings.workers))
        self.client = httpx.Client(
            transport=VettedTransport(AddressPolicy(settings.allow_private_networks), limits),
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(settings.timeout_s),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._robots_lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def fetch(self, url, *, etag=None, last_modified=None, rate_limit_per_s=None) -> Response:
        """The response for `url`, or a FetchError: a URL that no client could request (an
        IDNA label over 63 characters, a broken IPv6 literal, a control character, a scheme
        other than http(s), here or after a redirect) is a permanent failure of that URL."""
        try:
            return self._fetch(url, etag, last_modified, rate_limit_per_s)
        except (ValueError, httpx.InvalidURL) as exc:  # UnicodeError (IDNA) is a ValueError
            raise FetchError(f"invalid URL: {type(exc).__name__}: {exc}") from None

    def _fetch(self, url, etag, last_modified, rate_limit_per_s) -> Response:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = [url]
        current = url
        for _ in range(self.settings.max_redirects + 1):
            scheme = urlsplit(current).scheme.lower()
            if scheme not in SCHEMES:
                where = "" if current == url else f" (redirected there from {url})"
                raise FetchError(
                    f"refused scheme {scheme or 'none'!r} of {current[:200]}{where}: only http and https are fetched"
                )
            self._check_allowed(current)
            self.limiter.wait(host_of(current), rate_limit_per_s)
            response = self._get(current, headers)
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("location")
                if not location:
                    raise FetchError(f"HTTP {response.status} redirect without a Location header")
                current = urljoin(current, location)
                if current in seen:
                    raise FetchError(f"redirect loop: {' -> '.join(seen + [current])}")
                seen.append(current)
                continue
            response.url = url
            if response.status == 304:
                return response
            if response.status >= 400:
                raise FetchError(
                    f"HTTP {response.status}", transient=response.status >= 500 or response.status in TRANSIENT_STATUS
                )
            return response
        raise FetchError(f"more than {self.settings.max_redirects} redirects")

    def _check_allowed(self, url: str) -> None:
        if not self.settings.respect_robots:
            return
        robots = self._robots_for(url)
        if robots is None:
            raise FetchError("robots.txt unreachable: not crawling that host for now", transient=True)
        if not robots.can_fetch(self.settings.user_agent, url):
            raise FetchError("disallowed by robots.txt")

    def _get(self, url: str, headers: dict[str, str]) -> Response:
        """One request; the response (headers and body) must arrive within `timeout_s`."""
        try:
            with deadline(self.settings.timeout_s), self.client.stream("GET", url, headers=headers) as resp:
                body = _read_capped(resp, self.settings.max_bytes)
                return Response(
                    url, str(resp.url), resp.status_code, body, {k.lower(): v for k, v in resp.headers.items()}
                )
        except ForbiddenAddress as exc:
            raise FetchError(f"forbidden address: {exc}") from None
        except UnresolvableHost as exc:
            raise FetchError(str(exc), transient=True) from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.settings.timeout_s:g}s", transient=True) from None
        except httpx.HTTPError as exc:
            raise FetchError(f"network error: {type(exc).__name__}: {exc}", transient=True) from None

    def _robots_for(self, url: str) -> urllib.robotparser.RobotFileParser | None:
        """The host's robots.txt, or None while it is unreachable."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
        with origin_lock:  # concurrent first requests to a host read robots.txt once
            if origin not in self._robots:
                self._robots[origin] = self._read_robots(origin)
            return self._robots[origin]

    def _read_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | None:
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        # RFC 9309: an unavailable robots.txt (4xx) allows everything; an unreachable one
        # (5xx, network error) means the site may not be crawled for now. A forbidden host
        # fails here with its own reason.
        try:
            resp = self._get(origin + "/robots.txt", {})
        except FetchError as exc:
            if not exc.transient:
                raise
            LOGGER.warning("robots.txt for %s unreachable (%s): not crawling that host this run", origin, exc)
            return None
        if resp.status >= 500:
            return None
        if resp.status >= 400 or resp.status in (301, 302, 303, 307, 308):
            parser.allow_all = True
        else:
            parser.parse(resp.content.decode("utf-8", errors="replace").splitlines())
        return parser


def _decoder(content_encoding: str):
    """A zlib decompressor for the response's Content-Encoding (None for identity). We ask for
    gzip and deflate only, and decode here rather than in httpx, so the size cap holds for
    each decoded piece (httpx hands over a decoded network read whole: ~1000x its size)."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    raise FetchError(f"unsupported Content-Encoding {content_encoding!r}")


def _read_capped(resp: httpx.Response, limit: int) -> bytes:
    """The decoded body, refused as soon as it passes `limit` bytes (so memory stays near it)."""
    declared = resp.headers.get("content-length", "")
    decoder = _decoder(resp.headers.get("content-encoding", ""))
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(f"response too large: {declared} bytes > limit {limit}")
    body = bytearray()
    try:
        for raw in resp.iter_raw():
            while raw:
                if decoder is None:
                    piece, raw = raw, b""
                else:
                    piece, raw = decoder.decompress(raw, limit + 1 - len(body)), decoder.unconsumed_tail
                body += piece
                if len(body) > limit:
                    raise FetchError(f"response too large: over limit {limit} bytes (decoded)")
        if decoder is not None:
            body += decoder.flush()
    except zlib.error as exc:
        raise FetchError(f"corrupt {resp.headers.get('content-encoding')} body: {exc}") from None
    if len(body) > limit:
        raise FetchError(f"response too large: over limit {limit} bytes (decoded)")
    return bytes(body)


class SnapshotFetcher:
    """Saved pages laid out as `<root>/<host>/<path>[@<query>]` (`index.html` for a path
    ending in `/`), e.g. `pib.gov.in/PressReleasePage.aspx@PRID=2104567`.

    Used by the demo profile (bundled news, no network) and for backfills from saved copies.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FetchError(f"snapshot folder {self.root} does not exist")

    def close(self) -> None:
        pass

    def path_for(self, url: str) -> Path:
        parts = urlsplit(url)
        relative = parts.path.lstrip("/")
        if not relative or relative.endswith("/"):
            relative += "index.html"
        if parts.query:
            relative += "@" + parts.query
        path = (self.root / (parts.hostname or "") / relative).resolve()
        if self.root.resolve() not in path.parents:
            raise FetchError(f"{url} points outside the snapshot folder")
        return path

    def fetch(self, url, *, etag=None, last_modified=None, rate_limit_per_s=None) -> Response:
        path = self.path_for(url)
        if not path.is_file():
            raise FetchError(f"HTTP 404 (no saved copy at {path})")
        content = path.read_bytes()
        head = content[:200].lstrip().lower()
        if head.startswith((b"<?xml", b"<rss", b"<feed")):
            kind = "application/xml"
        else:
            kind = mimetypes.guess_type(path.name)[0] or "text/html"
        return Response(url, url, 200, content, {"content-type": kind})


def make_fetcher(settings: IngestSettings) -> Fetcher:
    if settings.fetcher == "snapshot":
        if settings.snapshot_dir is None:
            raise FetchError("the snapshot fetcher needs ingest.snapshot_dir")
        return SnapshotFetcher(resolve_project_file(settings.snapshot_dir))
    return HttpFetcher(settings)
