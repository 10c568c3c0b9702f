"""Prefect global concurrency limits around the two shared resources.

- `upscway-teacher-requests`: teacher requests in flight across every flow run and process that
  talks to the same Prefect API (a nightly run and a backfill's annotation share one vLLM). A
  batch holds as many slots as requests it sends at once, for as long as it is being answered.
- `upscway-duckdb-writer`: bulk writes (a load of staged pages, a batch of answers). DuckDB
  admits one writing process per file; the store already retries on a held lock, the limit
  makes writers queue in order instead of polling, and shows who waits in the UI.

`ensure_limits` creates or resizes them at the start of every run, active when
`limits.enabled`. Enable them where runs of several processes share a Prefect server (`upscway
serve`, workers; the `production` profile does): that server's repossessor returns the slots of
a run that crashed while holding them once their 60 s lease runs out. Prefect's ephemeral API
(a CLI run without a server, the test harness) runs no repossessor, so there a crashed holder's
slots would stay taken for good; hence off by default. Outside a flow or task run these are
no-ops. Acquiring is `strict`: a missing limit is an error, not a silent pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

from prefect.context import FlowRunContext, TaskRunContext

from upscway.settings import LimitsSettings

TEACHER_REQUESTS = "upscway-teacher-requests"
DUCKDB_WRITER = "upscway-duckdb-writer"

# Leases are renewed while a slot is held; a crashed holder's slots return when its lease runs
# out. 60 s is the shortest lease the server accepts.
_LEASE_S = 60
WRITER_WAIT_S = 10.0

LOGGER = logging.getLogger(__name__)


def _in_run() -> bool:
    return TaskRunContext.get() is not None or FlowRunContext.get() is not None


def ensure_limits(limits: LimitsSettings) -> None:
    """Create the limits, or update them, with the configured sizes; they are active only when
    `limits.enabled` (tasks read that from the limit itself, so they need no settings)."""
    if not _in_run():
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        for name, size in ((TEACHER_REQUESTS, limits.teacher_requests), (DUCKDB_WRITER, limits.duckdb_writer)):
            try:
                current = client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                try:
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=name, limit=size, active=limits.enabled)
                    )
                    continue
                except ObjectAlreadyExists:  # another process, started at the same moment, created it first
                    current = client.read_global_concurrency_limit_by_name(name)
            if (current.limit, current.active) != (size, limits.enabled):
                client.update_global_concurrency_limit(
                    name, GlobalConcurrencyLimitUpdate(limit=size, active=limits.enabled)
                )


@contextmanager
def _slots(name: str, occupy: int, wait_s: float | None = None) -> Iterator[None]:
    if occupy <= 0 or not _in_run():
        yield
        return
    from prefect.client.orchestration import get_client
    from prefect.concurrency.asyncio import AcquireConcurrencySlotTimeoutError
    from prefect.concurrency.sync import concurrency

    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(name)
    if not limit.active:
        yield
        return
    with ExitStack() as held:
        try:
            held.enter_context(
                concurrency(
                    name, occupy=min(occupy, limit.limit), timeout_seconds=wait_s, lease_duration=_LEASE_S, strict=True
                )
            )
        except AcquireConcurrencySlotTimeoutError:
            LOGGER.warning(
                "%s: no slot within %.0f s (a crashed run holds it until its lease expires); going on without",
                name,
                wait_s,
            )
        yield


def teacher_slots(requests: int) -> AbstractContextManager[None]:
    """Hold slots for `requests` teacher requests sent at once (capped at the limit's size)."""
    return _slots(TEACHER_REQUESTS, requests)


def writer_slot() -> AbstractContextManager[None]:
    """Hold the DuckDB writer slot; after `WRITER_WAIT_S` without it, write anyway: the store's
    file lock keeps writes correct, the limit only orders them."""
    return _slots(DUCKDB_WRITER, 1, WRITER_WAIT_S)
