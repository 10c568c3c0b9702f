"""Flow `promote`: evaluate if needed (never evaluated against the profile's teacher, the one
the production cascade asks, or its latest such evaluation has no certificate at the
configured ε and δ), decide with the gate on that evaluation, record the decision, and on a
pass move the `production` alias to the model in one transaction. A model that failed the gate moves
only with `force` and a reason, both recorded."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import State

from upscway.errors import InputError
from upscway.flows.context import FromProfile, Setup, on_setup, run_context
from upscway.flows.evaluate import evaluate, evaluate_on
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.cascade.validity import needs_evaluation
from upscway.tasks.promotion import apply_gate, latest_evaluation
from upscway.tasks.registry import ready_model


@flow(name="promote")
def promote(
    model: str, force: bool = False, reason: str | None = None, profile: str | None = None, data_dir: str | None = None
) -> State:
    return promote_on(FromProfile(profile, data_dir), model, force, reason)


def promote_on(setup: Setup | FromProfile, model: str, force: bool = False, reason: str | None = None) -> State:
    """The `promote` run on `setup` (flows/context.py); an evaluation it needs first is a
    subflow on the same setup."""
    if force and not (reason or "").strip():
        raise InputError("--force needs --reason: a forced promotion is recorded with why")
    with run_context("promote", {"model": model, "force": force, "reason": reason}, setup) as run:
        model = ready_model(run.store, model).id  # a unique prefix names the model too; refused unless a candidate
        teacher = annotator_of(run.settings.teacher)
        why = needs_evaluation(latest_evaluation(run.store, model, teacher), run.settings.cascade)
        if why:
            get_run_logger().info("evaluating %s against %s first: %s", model, teacher, why)
            on_setup(evaluate, evaluate_on, run.setup)(model=model, teacher=teacher)
        outcome = apply_gate(
            run.store, model, latest_evaluation(run.store, model, teacher), run.settings.gate, force, reason
        )
        return run.finish(outcome)
