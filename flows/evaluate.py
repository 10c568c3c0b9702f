"""Flow `evaluate`: a candidate and its teacher on the SAME gold chunks (a paired comparison),
and the cascade built of both as it would be deployed, with its certificate.

The gold split is the one the distill flow never trains on (`eval` articles, by the same hash
of the article id). Its random gold in the calibration half of those articles and the
teacher's answers on held-out news chunks certify the cascade's threshold; the rest of its gold
is what the report and the gate's seed criteria are computed on. Where the teacher has no
stored answer for a gold chunk and is a model this process can run (a registered student, or
the profile's own teacher), it annotates those chunks first; otherwise the run stops and says
which teacher is missing what.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from upscway.flows.context import FromProfile, Setup, run_context
from upscway.tasks.answers import answers_of, ensure_answers
from upscway.tasks.cascade.evaluation import OnGold, evaluate_cascade
from upscway.tasks.cascade.policy import Guarantee
from upscway.tasks.distill.scoring import student_scorer
from upscway.tasks.evaluate.report import Evaluated
from upscway.tasks.evaluate.steps import (
    calibration_samples,
    candidate_number,
    compare,
    evaluation_summary,
    gold_of_split,
    held_out,
    record_evaluation,
    teacher_on_gold,
)
from upscway.tasks.registry import ready_model


@flow(name="evaluate")
def evaluate(
    model: str,
    gold_split: str = "eval",
    teacher: str | None = None,
    profile: str | None = None,
    data_dir: str | None = None,
) -> State:
    """Score `model` and a teacher (default: the one it learnt from; `teacher` names another
    annotator, e.g. the chain's first teacher for a last-stage student) on the same gold."""
    return evaluate_on(FromProfile(profile, data_dir), model, gold_split, teacher)


def evaluate_on(setup: Setup | FromProfile, model: str, gold_split: str = "eval", teacher: str | None = None) -> State:
    """The `evaluate` run on `setup` (flows/context.py)."""
    params = {"model": model, "gold_split": gold_split, "teacher": teacher}
    with run_context("evaluate", params, setup) as run:
        row, task_def, settings = ready_model(run.store, model), run.task_def, run.settings
        against = teacher or row.teacher
        gold, random_gold = gold_of_split(
            run.store, task_def, gold_split, settings.distill, settings.cascade.calibration_fraction
        )
        hashes = gold.hashes + random_gold.hashes
        ensure_answers(run.store, run.run_id, against, hashes, settings.teacher, task_def, run.resources)
        answers = teacher_on_gold(answers_of(run.store, against, row.prompt_version, gold.hashes), gold, against)
        on_random = teacher_on_gold(
            answers_of(run.store, against, row.prompt_version, random_gold.hashes), random_gold, against
        )
        scorer = student_scorer(row, task_def)
        paired, student = compare(row, task_def, gold, answers, settings.gate.confidence, scorer)
        guarantee = Guarantee.of(settings.cascade)
        candidate, after = candidate_number(run.store, row.id, guarantee.epsilon, guarantee.delta)
        held, since = held_out(run.store, against, row.prompt_version, gold_split, settings.distill, gold, after)
        consistency, accuracy = calibration_samples(scorer, task_def, held, random_gold, on_random)
        on_gold = OnGold(student, answers, gold.gold)
        cascade = evaluate_cascade(on_gold, task_def, settings.cascade, consistency, accuracy, since, candidate)
        result = paired.model_copy(update={"cascade": cascade})
        evaluated = Evaluated(row, against, gold_split, on_gold, result)
        evaluation_id, decision, report = record_evaluation(
            run.store, run.layout, run.run_id, evaluated, task_def, settings.gate
        )
        summary = evaluation_summary(evaluation_id, row.id, against, result, decision, report)
        return run.finish(summary)
