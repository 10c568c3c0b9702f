"""Flow `tag`: the production student labels new chunks in batched forward passes; the chunks
it is unsure of (confidence below `cascade.confidence_threshold` when set, else the threshold
its cascade was certified at when it was promoted; or relevance inside
`cascade.relevance_band`) go to the teacher. Every chunk ends with a final label in `tags` and
who decided it. With no production model yet, the teacher decides everything; so it does, in a
run that ends as a `Fallback` naming the model and the path, when the production student's
folder is missing or its weights are damaged. A night whose
student is sure of every chunk (and audits none) never builds (or loads) the teacher.

Every night, before routing, a calibration draw of `cascade.calibration_rate` of the articles is
answered and decided by the teacher on every chunk (stored with its inclusion probability, never
trained on: new candidates are certified on it while the cascade offloads). With a production
student, a uniform share `cascade.audit_rate` of the texts it decided is answered by the teacher
too (`tasks/cascade/audit.py`), and tonight's live check is judged before tonight's tags are
stored: when its change-point detector alarms or a score of the student's is not finite (NaN,
infinite: a broken model, whose scores decide nothing), the teacher decides every chunk tonight,
a fallback is recorded, and later nights do not offload until a new student is promoted or the
fallback is cleared by hand (`upscway models clear-fallback`); when only tonight's upper bound of
the loss is above ε (`cascade.withhold_unproven`, or on a night whose student's scores moved past
`cascade.drift_limit`, audited at `cascade.drift_audit_rate`), the teacher decides tonight alone.
Such a run ends in a Completed state named `Fallback`.

Chunks of articles in a language the students do not serve (`cascade.student_languages`) are
never scored by the student: the teacher decides them, or with `cascade.other_languages = "skip"`
they are left untagged; the summary counts them (`other_languages`, `tasks/tag/languages.py`).
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import Completed, State

from upscway.flows.context import FALLBACK, FromProfile, Setup, run_context
from upscway.inputs import parse_day
from upscway.summaries import Fallback, TagSummary
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.cascade.live_report import publish_live_bound
from upscway.tasks.cascade.policy import CascadePolicy
from upscway.tasks.cascade.routing import statistics
from upscway.tasks.distill.folders import folder_problem
from upscway.tasks.tag.languages import other_languages, skip_filter
from upscway.tasks.tag.steps import (
    NightInput,
    fallback_and_night,
    mean_cost,
    route_night,
    score_night,
    store_tags,
    untagged_and_production,
)


@flow(name="tag")
def tag(
    since: str | None = None, limit: int | None = None, profile: str | None = None, data_dir: str | None = None
) -> State:
    return tag_on(FromProfile(profile, data_dir), since, limit)


def tag_on(setup: Setup | FromProfile, since: str | None = None, limit: int | None = None) -> State:
    """The `tag` run on `setup` (flows/context.py)."""
    parse_day(since, "--since")
    with run_context("tag", {"since": since, "limit": limit}, setup) as run:
        task_def, settings = run.task_def, run.settings
        cascade = settings.cascade
        chunks, model, threshold = untagged_and_production(
            run.store, task_def, since, limit, cascade.confidence_threshold, skip_filter(cascade)
        )
        production, unusable = model, folder_problem(model) if model else None
        if unusable:  # its folder is missing or damaged: tonight the teacher decides, as before any promotion
            get_run_logger().warning("the teacher decides every chunk tonight: %s", unusable)
            model = None
        holding, detector = fallback_and_night(run.store, model)
        scored = score_night(run.store, model, task_def, chunks, cascade.student_languages)
        policy = CascadePolicy.of(cascade, threshold, task_def.not_relevant_index)
        tonight = NightInput(run.run_id, scored, model, policy, holding, detector)
        routed = route_night(run.store, tonight, settings, task_def, run.resources)
        judged, figures = routed.judged, routed.figures
        store_tags(run.store, task_def.name, run.run_id, routed, model.id if model else None)
        if judged:
            publish_live_bound(run.store)
        audited = 0 if judged is None or judged.fallback else judged.live.audited
        fallback = (
            Fallback(new=judged.broken is not None, reason=judged.broken or judged.withheld or holding.reason)
            if routed.fallback
            else Fallback(new=True, reason=unusable)
            if unusable
            else None
        )
        cost = mean_cost(run.store, annotator_of(settings.teacher))
        summary = run.finish(
            TagSummary(
                production_model=production.id if production else None,
                confidence_threshold=threshold,
                chunks=len(chunks),
                **statistics(
                    routed.tags,
                    routed.chunks,
                    routed.requests + routed.audit_requests + routed.calibration_requests,
                    cost,
                    audited=audited,
                ),
                calibration_articles=len(routed.calibration),
                calibration_requests=routed.calibration_requests,
                drift=routed.drift,
                audit=figures,
                other_languages=other_languages(run.store, task_def.name, chunks, since, cascade),
                fallback=fallback,
            )
        )
        if routed.fallback or unusable:
            why = summary.data.fallback.reason
            return Completed(name=FALLBACK, message=f"the cascade did not offload: {why}", data=summary.data)
        return summary
