"""URL canonicalisation and the address policy for what the scraper may fetch."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

LOGGER = logging.getLogger(__name__)

# Query parameters that only track a click; they never change which article a URL names.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_ga",
        "_gl",
        "ref",
        "ref_src",
        "cmpid",
        "ocid",
        "spm",
        "s_cid",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "itm_", "ns_")
DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidUrlError(ValueError):
    """Not an absolute http(s) URL."""


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str) -> str:
    """The form under which an article is stored and deduplicated.

    Lower-cases scheme and host, drops default ports, userinfo, fragments and tracking
    parameters, sorts the remaining query parameters and collapses an empty path to `/`.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a broken IPv6 literal, a port out of range
        raise InvalidUrlError(f"not a valid URL: {url[:200]!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise InvalidUrlError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class ForbiddenAddress(Exception):
    """A host this profile may not connect to; `str()` says why."""


class UnresolvableHost(Exception):
    """A host name that does not resolve (now: DNS failures may pass)."""


class AddressPolicy:
    """Refuses hosts that resolve to loopback, private, link-local or reserved addresses.

    A feed is untrusted input: without this, an entry could point the scraper at a service
    inside our own network. Networks named in `allowed` (e.g. 127.0.0.1/32 for the demo and the
    tests) are let through. Every address a name resolves to must pass, and the fetcher
    connects to the addresses returned here (no second lookup that DNS rebinding could answer
    differently).
    """

    def __init__(self, allowed: Iterable[str] = ()):
        self.allowed = [ipaddress.ip_network(cidr, strict=False) for cidr in allowed]

    def vetted(self, host: str, port: int) -> list[str]:
        """The addresses of `host` to connect to; ForbiddenAddress when any is not allowed."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnresolvableHost(f"cannot resolve {host}: {exc.strerror}") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for text in addresses:
            address = ipaddress.ip_address(text)
            if not self._allowed(address):
                raise ForbiddenAddress(f"{host} resolves to non-public address {address}, which this profile forbids")
        return addresses

    def _allowed(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if any(address in net for net in self.allowed):
            return True
        return (getattr(address, "ipv4_mapped", None) or address).is_global  # ::ffff:10.0.0.1 is 10.0.0.1

    def refusal(self, url: str) -> str | None:
        """Why `url` must not be fetched, or None when it may be."""
        parts = urlsplit(url)
        if not parts.hostname:
            return f"no host in {url!r}"
        try:
            self.vetted(parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme, 80))
        except (ForbiddenAddress, UnresolvableHost) as exc:
            return str(exc)
        return None
