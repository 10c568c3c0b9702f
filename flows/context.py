"""The run context: what a flow run stands on, built once per top-level run and passed to its
subflows.

`using(settings)` is the edge: the CLI or a served run builds the settings once and opens the
store (migrated once per process), the run's shared resources (`RunResources`: teachers,
fetchers, worker pools; closed when the block ends) and the concurrency limits (ensured by the
first flow run). A flow is a Prefect flow `<name>(..., profile, data_dir)` (what deployments,
the UI and tests call: its parameters are JSON) that runs the plain function
`<name>_on(setup, ...)` on a setup of its own, built from the profile (`FromProfile`); a parent
run (nightly, promote) or the CLI runs it on the setup it holds with `on_setup(flow, body,
setup)`, still a (sub)flow run of its own. `run_context(flow, parameters, setup)` is what every body
opens: it records the run in `flow_runs`, marks it failed if the body raises, and
`finish(summary)` records the outcome and returns the flow's final state. Nothing is looked up
from a global: what a run's steps need is passed to them.
"""

from __future__ import annotations

import inspect
import logging
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from prefect import Flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, State

from upscway import progress
from upscway.flows.parameters import check_data_dir
from upscway.flows.runners import configured_runner
from upscway.outcomes import describe
from upscway.processes import ProcessId
from upscway.records import RunStatus
from upscway.settings import Settings, load_settings
from upscway.storage import runs, staging
from upscway.storage.layout import DataLayout
from upscway.storage.migrations import migrate
from upscway.storage.store import Store, StoreError
from upscway.summaries import FailedOutcome, FlowSummary, Summary
from upscway.tasks.limits import ensure_limits
from upscway.tasks.resources import RunResources
from upscway.taxonomy import TaskDefinition, load_task

LOGGER = logging.getLogger(__name__)

COMPLETED_WITH_FAILURES = "CompletedWithFailures"
FALLBACK = (
    "Fallback"  # a tag (or nightly) run whose cascade did not offload: its certificate broke, or a fallback holds
)

_migrated: set[str] = set()
_migrated_lock = threading.Lock()


def open_store(settings: Settings) -> Store:
    """The configured store, migrated to the current schema (once per file in this process)."""
    store = Store(settings.database_path, lock_timeout_s=settings.storage.lock_timeout_s)
    with _migrated_lock:
        if str(store.path) not in _migrated:
            migrate(store)
            _migrated.add(str(store.path))
    return store


@dataclass
class Setup:
    settings: Settings
    store: Store
    layout: DataLayout
    resources: RunResources
    limits_ensured: bool = False

    @cached_property
    def task_def(self) -> TaskDefinition:
        """The labelling task of `task.file`, loaded once for every run on this setup."""
        return load_task(self.settings.task.file)


@contextmanager
def using(settings: Settings) -> Iterator[Setup]:
    """Settings, store and shared resources for the flow runs started on the setup (a top-level
    run and its subflows); the resources are closed when the block ends."""
    setup = Setup(settings, open_store(settings), DataLayout(settings.data_dir), RunResources())
    try:
        yield setup
    finally:
        setup.resources.close()


@dataclass(frozen=True)
class FromProfile:
    """A run that builds its own setup from the profile and data folder its parameters name (a
    served deployment's run, a flow called on its own), and closes it when it ends."""

    profile: str | None = None
    data_dir: str | None = None


def on_setup(flow_obj: Flow, body: Callable[..., State], setup: Setup) -> Flow:
    """The flow `flow_obj` (its name, version, description and task runner: the options these
    flows set) whose runs are `body(setup, ...)`: how a parent run starts a subflow on its
    setup, and the CLI a flow on the settings it built. Its parameters are `body`'s after the
    setup (JSON-able, as the served flow's), so Prefect validates and records them as usual."""
    signature = inspect.signature(body, eval_str=True)

    def run(*args: Any, **kwargs: Any) -> State:
        return body(setup, *args, **kwargs)

    run.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    for name in ("__name__", "__qualname__", "__module__", "__doc__"):
        setattr(run, name, getattr(flow_obj.fn, name))
    return Flow(
        run,
        name=flow_obj.name,
        version=flow_obj.version,
        description=flow_obj.description,
        task_runner=flow_obj.task_runner,
    )


@dataclass
class RunContext:
    """One flow run: its id, the setup it runs on, and its bookkeeping."""

    run_id: str
    flow: str
    setup: Setup
    started: float = field(default_factory=time.monotonic)

    @property
    def settings(self) -> Settings:
        return self.setup.settings

    @property
    def store(self) -> Store:
        return self.setup.store

    @property
    def layout(self) -> DataLayout:
        return self.setup.layout

    @property
    def task_def(self) -> TaskDefinition:
        return self.setup.task_def

    @property
    def resources(self) -> RunResources:
        return self.setup.resources

    def seconds(self) -> float:
        return time.monotonic() - self.started

    def finish(self, summary: FlowSummary) -> State:
        """Record the outcome, with the run's failures and id (the state's data is that summary);
        the state is named `CompletedWithFailures` when any item failed."""
        shutil.rmtree(self.layout.run_staging(self.run_id), ignore_errors=True)
        with self.store.transaction() as conn:
            failures = runs.count_failures(conn, self.run_id)
            summary = summary.model_copy(update={"failures": failures, "run_id": self.run_id})
            status = RunStatus.COMPLETED_WITH_FAILURES if summary.failures else RunStatus.COMPLETED
            runs.finish_run(conn, self.run_id, status, summary.model_dump())
        line = describe(summary)
        get_run_logger().info("%s finished in %.1f s: %s", self.flow, self.seconds(), line)
        progress.finished(self.flow, status.shown, f"in {self.seconds():.0f} s: {line}")
        if summary.failures:
            return Completed(
                name=COMPLETED_WITH_FAILURES,
                message=f"{summary.failures} item(s) failed; see the failures table for run {self.run_id}",
                data=summary,
            )
        return Completed(data=summary)

    def record(self, status: RunStatus, summary: Summary) -> None:
        """The run's row in `flow_runs` gets its final status and summary."""
        with self.store.transaction() as conn:
            runs.finish_run(conn, self.run_id, status, summary.model_dump())

    def fail(self, error: BaseException) -> None:
        """Record the failure; when even that cannot be written (the disk that failed the run is
        still full), the run's row stays `running` and the next run marks it crashed."""
        summary = FailedOutcome(error=f"{type(error).__name__}: {error}")
        try:
            self.record(RunStatus.FAILED, summary)
        except StoreError as exc:
            LOGGER.warning("run %s failed and its failure could not be recorded: %s", self.run_id, exc)
        line = describe(summary)
        get_run_logger().error("%s failed after %.1f s: %s", self.flow, self.seconds(), line)
        progress.finished(self.flow, RunStatus.FAILED.shown, f"after {self.seconds():.0f} s: {line}")


@contextmanager
def run_context(flow: str, parameters: dict[str, Any], setup: Setup | FromProfile) -> Iterator[RunContext]:
    """The context of one flow run on `setup`, or on one of its own (see the module's docstring)."""
    with _setup(setup) as setup:
        if not setup.limits_ensured:
            ensure_limits(setup.settings.limits)
            setup.limits_ensured = True
        ctx = RunContext(flow_run.id or str(uuid.uuid4()), flow, setup)
        with setup.store.transaction() as conn:
            _mark_crashed_runs(conn)
            runs.start_run(
                conn, ctx.run_id, flow, {**parameters, "profile": setup.settings.profile}, ProcessId.current()
            )
            live = {row.id for row in runs.running(conn)}
        staging.prune(setup.layout.staging, live)
        try:
            with configured_runner(flow, setup.settings.runner):
                yield ctx
        except BaseException as exc:
            ctx.fail(exc)
            raise


def _mark_crashed_runs(conn) -> None:
    """Runs whose row says `running` but whose process is gone (killed, out of memory, a
    reboot) are marked `crashed`, so `upscway status` never shows them running forever."""
    for row in runs.running(conn):
        if row.process is None:
            reason = "started by a version that did not record its process; it is not running any more"
        elif row.process.is_gone():
            reason = f"its process {row.process.pid} on {row.process.host} ended without finishing the run"
        else:
            continue
        LOGGER.warning("run %s (%s) crashed: %s", row.id, row.flow, reason)
        runs.mark_crashed(conn, row.id, reason)


@contextmanager
def _setup(given: Setup | FromProfile) -> Iterator[Setup]:
    if isinstance(given, Setup):
        yield given
        return
    settings = load_settings(given.profile, given.data_dir)
    if given.data_dir is not None:
        check_data_dir(settings, load_settings(given.profile, None))
    with using(settings) as setup:
        yield setup


def failure_of(state: State) -> Any:
    """What a failed run left: its exception, with the finished frames of the traceback cleared
    (their locals, closed DuckDB connections among them, would otherwise live as long as the
    state and be reported by DuckDB's binding as leaked at exit), or the data it failed with."""
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        traceback.clear_frames(outcome.__traceback__)
    return outcome
