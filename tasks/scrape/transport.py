"""Connections the scraper can trust: made only to addresses the policy vetted, and never
running past a response's deadline.

httpx's timeouts are per operation: a server that sends one byte per second never trips a
5 s read timeout, and httpx resolves a host name again when it connects (a DNS-rebinding
window after the policy's check). Here the network backend under httpx's connection pool
resolves each host once, through the policy, connects to those addresses, and caps every
connect, read and write by what is left of the deadline that `deadline(seconds)` set for the
calling thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpcore
import httpx

from upscway.tasks.scrape.urls import AddressPolicy

_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Everything this thread sends or receives in the block must end within `seconds`."""
    _local.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.deadline = None


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    end = getattr(_local, "deadline", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise error("the response's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        )

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _VettedBackend(httpcore.SyncBackend):
    def __init__(self, policy: AddressPolicy):
        self.policy = policy

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None) -> httpcore.NetworkStream:
        addresses = self.policy.vetted(host, port)  # raises ForbiddenAddress / UnresolvableHost
        error: Exception | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(
                    address, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
                return _DeadlineStream(stream)
            except (OSError, httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error


class VettedTransport(httpx.HTTPTransport):
    """httpx's own transport over the vetted, deadline-bound backend."""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits):
        super().__init__(limits=limits)
        # httpx takes no network backend; its pool is rebuilt with the same limits and ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_VettedBackend(policy),
        )
