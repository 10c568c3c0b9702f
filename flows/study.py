"""Flow `study`: the arms of a study spec (`deployments/studies/*.yaml`), each trained over its
seeds and scored on the same gold chunks, stored in `studies` and `study_arms` and reported.

Each arm and seed is a task: on the default runner they run one after another; with
`runner.kind = "dask"` they fan out to the cluster's worker processes. An arm trained before,
by this or another study (same settings, seed, budget and training data), is reused, so a
rerun trains only what changed.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from upscway.flows.context import FromProfile, Setup, run_context
from upscway.flows.parameters import parameter_file
from upscway.tasks.study.spec import load_spec
from upscway.tasks.study.steps import StudyRequest, plan_study, report_study, run_arms


@flow(name="study")
def study(spec: str, quick: bool = False, profile: str | None = None, data_dir: str | None = None) -> State:
    """Run the study of the spec file `spec` (`quick`: its quick budget)."""
    return study_on(FromProfile(profile, data_dir), spec, quick)


def study_on(setup: Setup | FromProfile, spec: str, quick: bool = False) -> State:
    """The `study` run on `setup` (flows/context.py)."""
    with run_context("study", {"spec": spec, "quick": quick}, setup) as run:
        loaded = load_spec(parameter_file(run.settings, "--spec", spec), quick)
        request = StudyRequest(loaded, spec, quick)
        plan = plan_study(run.store, run.layout, run.run_id, request, run.settings, run.task_def, run.resources)
        run_arms(run.store, plan, fan_out=run.settings.runner.kind == "dask")
        return run.finish(report_study(run.store, plan, quick, run.task_def))
