"""Flow `promote`: evaluate if needed, decide with the gate, record the decision, and on a pass
move the `production` alias to the model in one transaction. A model that failed the gate moves
only with `force` and a reason, both recorded."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from upscway.errors import InputError
from upscway.flows.common import begin_run, end_run, fail_run
from upscway.flows.evaluate import evaluate
from upscway.storage import evaluations as repo
from upscway.storage import models as registry
from upscway.tasks.evaluate.gate import decide, gate_support

PRODUCTION = "production"


@flow(name="promote")
def promote(model: str, force: bool = False, reason: str | None = None, profile: str | None = None, data_dir: str | None = None) -> State:
    if force and not (reason or "").strip():
        raise InputError("--force needs --reason: a forced promotion is recorded with why")
    ctx = begin_run("promote", profile, data_dir, {"model": model, "force": force, "reason": reason})
    try:
        with ctx.store.reader() as conn:
            evaluation = repo.latest_for_model(conn, model)
        if evaluation is None:
            evaluate(model=model, profile=profile, data_dir=data_dir)
            with ctx.store.reader() as conn:
                evaluation = repo.latest_for_model(conn, model)
        decision = decide(evaluation["student"], evaluation["teacher"]["accuracy"], gate_support(evaluation), ctx.settings.gate)
        moves = decision.verdict == "promote" or force
        with ctx.store.transaction() as conn:
            repo.record_decision(conn, model, evaluation["id"], decision, forced=force and decision.verdict != "promote", reason=reason)
            previous = registry.move_alias(conn, PRODUCTION, model, "promote", reason) if moves else None
    except BaseException as exc:
        fail_run(ctx, exc)
        raise
    return end_run(ctx, {
        "model": model, "verdict": decision.verdict, "production": model if moves else previous or "unchanged",
        "previous_production": previous, "forced": force and decision.verdict != "promote",
        "criteria": {c.name: f"{c.value if c.value is None else round(c.value, 3)} {c.comparison} {c.threshold}: {'pass' if c.passed else 'FAIL'}" for c in decision.criteria},
        "reasons": list(decision.reasons),
    })
