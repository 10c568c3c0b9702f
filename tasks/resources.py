"""What one run's tasks share in a process, each built on first use and closed when the run
ends: teachers (a model loaded once, a client's connection pool), fetchers (robots.txt and
per-host rate limits shared by every thread) and the pool of worker processes that scrapes.

The run context (flows/context.py) opens a `RunResources` for a top-level run (its subflows
share it), passes it to the steps and tasks that need one of these things, and closes it when
the run ends, so no flow closes anything by hand. Steps type it by what they use
(`tasks.annotate.teacher.Teachers`, `tasks.scrape.fetch.Fetchers`,
`tasks.scrape.steps.ScrapeResources`), so the stages never import this module.

A `RunResources` sent to another process (a task run by a Dask worker, a batch scraped by a
spawned worker process) arrives there as that process's own: it builds what it is asked for
from the settings the task received, and is closed when that process exits.
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from upscway.processes import exit_with_parent
from upscway.settings import IngestSettings, TeacherSettings
from upscway.tasks.annotate.teacher import Teacher
from upscway.tasks.annotate.teachers import make_teacher, resolve_api_key
from upscway.tasks.scrape.fetch import Fetcher, make_fetcher
from upscway.taxonomy import TaskDefinition

T = TypeVar("T")


class RunResources:
    """One run's shared things in this process (see the module's docstring)."""

    def __init__(self) -> None:
        self._things: dict[tuple[str, str], tuple[Any, Callable[[Any], None]]] = {}
        self._lock = threading.Lock()

    def teacher(self, task_def: TaskDefinition, settings: TeacherSettings) -> Teacher:
        """One teacher per task version and settings: a model is loaded once, a client's
        connection pool is shared by every batch."""

        def build() -> Teacher:
            return make_teacher(task_def, settings, resolve_api_key(settings) if settings.backend == "openai" else None)

        return self._shared("teacher", f"{task_def.version}:{settings.model_dump_json()}", build, lambda t: t.close())

    def fetcher(self, settings: IngestSettings) -> Fetcher:
        """One fetcher per settings, so robots.txt and per-host rate limits are shared by every
        thread of this process."""
        return self._shared("fetcher", settings.model_dump_json(), lambda: make_fetcher(settings), lambda f: f.close())

    def pool(self, processes: int) -> ProcessPoolExecutor:
        """`processes` worker processes, spawned, not forked (this process runs threads,
        Prefect's and httpx's, whose locks a fork would copy in whatever state they were); each
        exits when this process is gone, even mid-fetch."""
        return self._shared(
            "worker-pool",
            str(processes),
            lambda: ProcessPoolExecutor(
                processes, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent
            ),
            ProcessPoolExecutor.shutdown,
        )

    def _shared(self, kind: str, key: str, build: Callable[[], T], close: Callable[[T], None]) -> T:
        """The `kind` thing for `key`, built on first use; `close(thing)` runs when these
        resources are closed."""
        with self._lock:
            if (kind, key) not in self._things:
                self._things[(kind, key)] = (build(), close)
            return self._things[(kind, key)][0]

    def close(self) -> None:
        """Close everything built, the last built first."""
        with self._lock:
            things, self._things = list(self._things.values()), {}
        for thing, close in reversed(things):
            close(thing)

    def __reduce__(self) -> tuple[Callable[[], RunResources], tuple[()]]:
        """Pickled to another process, these resources arrive as that process's own."""
        return process_resources, ()


_process: RunResources | None = None
_process_lock = threading.Lock()


def process_resources() -> RunResources:
    """This process's own resources, for the tasks it runs for a run in another process; built
    when the first `RunResources` arrives, closed when the process exits. Unpickling calls it."""
    global _process
    with _process_lock:
        if _process is None:
            _process = RunResources()
            atexit.register(_process.close)
        return _process
