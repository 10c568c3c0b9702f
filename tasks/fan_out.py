"""Batches as Prefect tasks, a bounded number in flight: the loop that ingest and backfill
(scraping pages) and annotate (asking the teacher) share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from prefect.futures import PrefectFuture, as_completed

B = TypeVar("B")


def fan_out(
    batches: Iterable[B], submit: Callable[[B], PrefectFuture[Any]], limit: int
) -> Iterator[tuple[B, PrefectFuture[Any]]]:
    """Submit `batches` in order, at most `limit` in flight at once, and yield each with its
    future as it finishes (in the order they finish). The next batch is submitted in its place
    once the caller has handled the one yielded."""
    waiting = iter(batches)
    running: dict[PrefectFuture[Any], B] = {}
    while True:
        for batch in islice(waiting, limit - len(running)):
            running[submit(batch)] = batch
        if not running:
            return
        finished = next(as_completed(list(running)))
        yield running.pop(finished), finished
