"""Long-lived things that a run's tasks share in one process: teachers (a model loaded once, a
client's connection pool), fetchers (robots.txt and per-host rate limits shared by every
thread) and worker-process pools.

A top-level run opens a `Resources` (the run context does, in flows/) and closes everything
in it when the run ends, so no flow closes anything by hand. Code that runs outside such a
run, e.g. in a Dask worker or a spawned scraping process, gets the process's default
resources, closed when the process exits.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class Resources:
    def __init__(self) -> None:
        self._things: dict[tuple[str, str], tuple[Any, Callable[[Any], None]]] = {}
        self._lock = threading.Lock()

    def shared(self, kind: str, key: str, build: Callable[[], T], close: Callable[[T], None]) -> T:
        """The `kind` thing for `key`, built on first use; `close(thing)` runs when these
        resources are closed."""
        with self._lock:
            if (kind, key) not in self._things:
                self._things[(kind, key)] = (build(), close)
            return self._things[(kind, key)][0]

    def close(self) -> None:
        with self._lock:
            things, self._things = list(self._things.values()), {}
        for thing, close in reversed(things):
            close(thing)


_default = Resources()
_stack: list[Resources] = []
_stack_lock = threading.Lock()
atexit.register(_default.close)


def current() -> Resources:
    """The open run's resources, or the process default."""
    with _stack_lock:
        return _stack[-1] if _stack else _default


@contextmanager
def opened() -> Iterator[Resources]:
    """Resources for one top-level run: what its tasks build is closed when it ends."""
    resources = Resources()
    with _stack_lock:
        _stack.append(resources)
    try:
        yield resources
    finally:
        with _stack_lock:
            _stack.remove(resources)
        resources.close()
