"""Flow `nightly`: ingest → tag (student first, the teacher for what it is unsure of) → when
enough new teacher labels have arrived, distil the chain → evaluate its last student on gold
against the chain's first teacher (the one the cascade saves requests to; a two-stage chain's
last student is not judged only against the stage that taught it) → promote it if the gate
passes.

Each step is its own flow run (a subflow), with its own row in `flow_runs`, its own failures
and artifacts; this run adds a summary artifact of every step. A step that fails does not stop
the independent ones after it (tagging what is already stored is useful when a feed server is
down), but evaluation and promotion only follow a distillation that completed. Distillation is
skipped, with the reason, while another live run trains the chain (tasks/distill/ownership.py).
The run is Failed when any step failed, `CompletedWithFailures` when a step recorded failed items.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed, State

from upscway import progress
from upscway.flows.context import (
    COMPLETED_WITH_FAILURES,
    FALLBACK,
    FromProfile,
    RunContext,
    Setup,
    failure_of,
    on_setup,
    run_context,
)
from upscway.flows.distill import distill as distill_flow
from upscway.flows.distill import distill_on
from upscway.flows.evaluate import evaluate as evaluate_flow
from upscway.flows.evaluate import evaluate_on
from upscway.flows.ingest import ingest as ingest_flow
from upscway.flows.ingest import ingest_on
from upscway.flows.parameters import DistillStep, IngestStep, PromoteStep, TagStep
from upscway.flows.promote import promote as promote_flow
from upscway.flows.promote import promote_on
from upscway.flows.tag import tag as tag_flow
from upscway.flows.tag import tag_on
from upscway.outcomes import describe
from upscway.records import RunStatus
from upscway.summaries import (
    DistillSummary,
    EvaluateSummary,
    FailedOutcome,
    FlowSummary,
    NightlySummary,
    SkippedOutcome,
    StepOutcome,
    TagSummary,
)
from upscway.tasks.distill.ownership import TrainingElsewhere, training_elsewhere
from upscway.tasks.distill.steps import last_student_and_first_teacher, retraining_due

STEPS = ("ingest", "tag", "distill", "evaluate", "promote")
STEP_FLOWS = {  # each step's flow and the body that runs it on a setup
    "ingest": (ingest_flow, ingest_on),
    "tag": (tag_flow, tag_on),
    "distill": (distill_flow, distill_on),
    "evaluate": (evaluate_flow, evaluate_on),
    "promote": (promote_flow, promote_on),
}


def _run_step(run: RunContext, outcomes: dict[str, StepOutcome], name: str, **kwargs: Any) -> FlowSummary | None:
    """Run one step's flow, a subflow on this run's setup; record its outcome; return its
    summary, or None if it failed (or found its work taken by another live run: then it is
    recorded as skipped, with the reason)."""
    state = on_setup(*STEP_FLOWS[name], run.setup)(**kwargs, return_state=True)
    if state.is_completed():
        summary: FlowSummary = state.result()
        status = RunStatus.COMPLETED_WITH_FAILURES if state.name == COMPLETED_WITH_FAILURES else RunStatus.COMPLETED
        outcomes[name] = summary.model_copy(update={"status": status})
        return summary
    error = failure_of(state)
    if isinstance(error, TrainingElsewhere):  # another run registered the stage first
        _skip(outcomes, name, str(error))
        return None
    why = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else state.message
    outcomes[name] = FailedOutcome(error=why)
    return None


def _skip(outcomes: dict[str, StepOutcome], name: str, reason: str) -> None:
    outcomes[name] = SkippedOutcome(reason=reason)
    get_run_logger().info("%s skipped: %s", name, reason)
    progress.finished(name, RunStatus.SKIPPED.shown, reason)


@flow(name="nightly")
def nightly(
    ingest: IngestStep = IngestStep(),
    tag: TagStep = TagStep(),
    distill: DistillStep = DistillStep(),
    promote: PromoteStep = PromoteStep(),
    profile: str | None = None,
    data_dir: str | None = None,
) -> State:
    """The daily pipeline; every step can be switched off or narrowed in the parameters."""
    return nightly_on(FromProfile(profile, data_dir), ingest, tag, distill, promote)


def nightly_on(
    setup: Setup | FromProfile,
    ingest: IngestStep = IngestStep(),
    tag: TagStep = TagStep(),
    distill: DistillStep = DistillStep(),
    promote: PromoteStep = PromoteStep(),
) -> State:
    """The `nightly` run on `setup` (flows/context.py); each step a subflow on the same setup."""
    parameters = {
        "ingest": ingest.model_dump(),
        "tag": tag.model_dump(),
        "distill": distill.model_dump(),
        "promote": promote.model_dump(),
    }
    with run_context("nightly", parameters, setup) as run:
        outcomes: dict[str, StepOutcome] = {}
        if ingest.enabled:
            _run_step(run, outcomes, "ingest", source=ingest.source, limit=ingest.limit)
        if tag.enabled:
            _run_step(run, outcomes, "tag", since=tag.since, limit=tag.limit)
        if distill.enabled:
            chain = distill.chain or run.settings.distill.chain
            due, why = retraining_due(run.store, run.settings, run.task_def, chain, distill.min_new_teacher_labels)
            busy = training_elsewhere(run.store, chain)
            if busy or not due:
                _skip(outcomes, "distill", busy or why)
            elif isinstance(trained := _run_step(run, outcomes, "distill", chain=chain), DistillSummary):
                model, root = last_student_and_first_teacher(trained)
                if _run_step(run, outcomes, "evaluate", model=model, teacher=root) and promote.enabled:
                    _run_step(run, outcomes, "promote", model=model)
        for name, step in (
            ("ingest", ingest),
            ("tag", tag),
            ("distill", distill),
            ("evaluate", None),
            ("promote", promote),
        ):
            if name not in outcomes:
                _skip(
                    outcomes,
                    name,
                    "switched off in this run's parameters" if step and not step.enabled else _why_not(name, outcomes),
                )
        return _finish(run, outcomes)


def _why_not(name: str, outcomes: dict[str, StepOutcome]) -> str:
    """Why evaluate or promote did not run although switched on: the step before did not complete."""
    before = {"evaluate": "distill", "promote": "evaluate"}[name]
    return f"no new student to {name}: {before} {outcomes[before].status}"


def _finish(run: RunContext, outcomes: dict[str, StepOutcome]) -> State:
    """The night's state: Failed when a step failed, CompletedWithFailures when a step recorded
    failed items, Completed named Fallback when the cascade fell back to the teacher, else
    Completed; with the summary artifact and the `flow_runs` row."""
    outcomes = {name: outcomes[name] for name in STEPS}
    failed = [name for name, o in outcomes.items() if o.status == RunStatus.FAILED]
    partial = [name for name, o in outcomes.items() if o.status == RunStatus.COMPLETED_WITH_FAILURES]
    evaluated = outcomes["evaluate"]
    summary = NightlySummary(
        run_id=run.run_id,
        steps=outcomes,
        failed_items=sum(o.failures for o in outcomes.values() if isinstance(o, FlowSummary)),
        report=(evaluated.report or None) if isinstance(evaluated, EvaluateSummary) else None,
    )
    create_markdown_artifact(
        summary_markdown(outcomes), key="nightly-summary", description="what each step of the nightly run did"
    )
    status = RunStatus.FAILED if failed else RunStatus.COMPLETED_WITH_FAILURES if partial else RunStatus.COMPLETED
    run.record(status, summary)
    if failed:
        return Failed(message=f"step(s) failed: {', '.join(failed)}", data=summary)
    if partial:
        return Completed(
            name=COMPLETED_WITH_FAILURES, message=f"step(s) with failed items: {', '.join(partial)}", data=summary
        )
    tagged = outcomes["tag"]
    fallback = tagged.fallback if isinstance(tagged, TagSummary) else None
    if fallback:  # a state an automation can match on (docs/concepts/certificate-in-production.md)
        return Completed(name=FALLBACK, message=f"the cascade did not offload tonight: {fallback.reason}", data=summary)
    return Completed(data=summary)


def summary_markdown(outcomes: dict[str, StepOutcome]) -> str:
    """One row per step: its status and what it did (or why it did not run)."""
    lines = ["## Nightly run", "", "| step | status | what it did |", "|---|---|---|"]
    lines += [f"| {name} | {RunStatus(o.status).shown} | {describe(o)} |" for name, o in outcomes.items()]
    return "\n".join(lines) + "\n"
