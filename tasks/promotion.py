"""Promotion and rollback: the gate's decision on a model's latest evaluation moves the
`production` alias (with the cascade threshold its certificate holds at), in one transaction.
Whether that evaluation's certificate still answers the settings is the cascade's side
(`tasks/cascade/validity.py`)."""

from __future__ import annotations

from upscway.errors import InputError
from upscway.records import PRODUCTION
from upscway.results import StudentMetrics, Verdict
from upscway.settings import GateSettings
from upscway.storage import audits as audit_rows
from upscway.storage import evaluations as evaluation_rows
from upscway.storage import models as model_rows
from upscway.storage.evaluations import Evaluation
from upscway.storage.store import Store
from upscway.summaries import PromoteSummary
from upscway.tasks.evaluate.gate import decide
from upscway.tasks.evaluate.steps import certified_point


def latest_evaluation(store: Store, model_id: str, teacher: str | None = None) -> Evaluation | None:
    """The model's newest evaluation; with `teacher`, its newest against that annotator (the
    gate judges the cascade production would run: the student with the profile's teacher, not
    a comparison with, say, its float parent)."""
    with store.reader() as conn:
        return evaluation_rows.latest_for_model(conn, model_id, teacher)


def apply_gate(
    store: Store, model: str, evaluation: Evaluation, gate: GateSettings, force: bool, reason: str | None
) -> PromoteSummary:
    """Decide on the latest evaluation, record the decision, and move `production` to the model
    on a pass (or when forced, with the reason), all in one transaction."""
    if force and not (reason or "").strip():
        raise InputError("--force needs --reason: a forced promotion is recorded with why")
    decision = decide(evaluation.result, gate)
    passed = decision.verdict is Verdict.PROMOTE
    moves, forced = passed or force, force and not passed
    threshold = evaluation.result.chosen.threshold if evaluation.result.chosen else None
    with store.transaction() as conn:
        evaluation_rows.record_decision(conn, model, evaluation.id, decision, forced=forced, reason=reason)
        previous = model_rows.move_alias(conn, PRODUCTION, model, "promote", reason, threshold) if moves else None
        if moves:  # certified afresh (or forced with a reason): a fallback held against it ends
            audit_rows.clear_fallbacks(
                conn, model, f"forced promotion: {reason}" if forced else "re-certified and promoted by the gate"
            )
        cascade = evaluation.result.cascade
        if moves and cascade is not None and cascade.reference_confidences:  # the drift alarm's reference from now on
            reference = StudentMetrics(certified_confidences=list(cascade.reference_confidences))
            model_rows.add_metrics(conn, model, reference)
    return PromoteSummary(
        model=model,
        verdict=decision.verdict.value,
        certificate=decision.sentence,
        **certified_point(decision),
        production=model if moves else previous or "unchanged",
        cascade_threshold=threshold if moves else None,
        previous_production=previous,
        forced=forced,
        criteria={
            c.name: f"{c.value if c.value is None else round(c.value, 3)} {c.comparison} {c.threshold}: {'pass' if c.passed else 'FAIL'}"
            for c in decision.criteria
        },
        reasons=list(decision.reasons),
    )


def clear_fallback(store: Store, reason: str | None) -> tuple[str, int]:
    """Let the production model offload again after a fallback, by hand: (model, fallbacks
    cleared). The reason is recorded with them."""
    if not (reason or "").strip():
        raise InputError("clear-fallback needs --reason: clearing a fallback by hand is recorded with why")
    with store.transaction() as conn:
        model_id = model_rows.holder(conn, PRODUCTION)
        if model_id is None:
            raise InputError("no production model: nothing to clear")
        cleared = audit_rows.clear_fallbacks(conn, model_id, f"by hand: {reason}")
    if not cleared:
        raise InputError(f"production model {model_id} has no active fallback")
    return model_id, cleared


def rollback(store: Store, reason: str | None) -> tuple[str, str]:
    """Point `production` back at the model it held before the last promotion: (from, to)."""
    with store.transaction() as conn:
        last = model_rows.last_promotion(conn, PRODUCTION)
        if last is None or last.previous_id is None:
            raise InputError("no earlier production model to roll back to")
        model_rows.move_alias(conn, PRODUCTION, last.previous_id, "rollback", reason)
    return last.model_id, last.previous_id
