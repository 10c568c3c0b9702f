"""Flow `distill`: train each stage of a chain; a stage taught by an earlier stage first has
that student relabel the chunks (stored as annotations under `model:<id>`).

Between stages a causal-LM student's LoRA is merged into its base and scores every chunk once;
the next stage then reads those stored probabilities, so two large models are never loaded at
once. Every trained student is registered in `models` as a candidate.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from upscway.flows.context import FromProfile, Setup, run_context
from upscway.summaries import DistillSummary, TrainedStage
from upscway.tasks.distill.steps import StageJob, prepare_stage, stages_to_train, teacher_of_stage, train_student

SHOWN = ("train_examples", "steps", "last_kd", "validation_agreement_with_teacher")


@flow(name="distill")
def distill(
    chain: str | None = None, stage: str | None = None, profile: str | None = None, data_dir: str | None = None
) -> State:
    """Train the stages of `chain` (default: the profile's), or only `stage`."""
    return distill_on(FromProfile(profile, data_dir), chain, stage)


def distill_on(setup: Setup | FromProfile, chain: str | None = None, stage: str | None = None) -> State:
    """The `distill` run on `setup` (flows/context.py)."""
    with run_context("distill", {"chain": chain, "stage": stage}, setup) as run:
        name, d = chain or run.settings.distill.chain, run.settings.distill
        task_def = run.task_def
        trained: dict[str, TrainedStage] = {}
        for s in stages_to_train(name, stage, d.chains_file):
            teacher = teacher_of_stage(run.store, run.run_id, name, s, task_def, run.settings.teacher, run.resources)
            job = StageJob(name, s, teacher, run.settings.cascade.student_languages)
            model_id, config_path = prepare_stage(run.store, run.layout, run.run_id, job, task_def, d)
            metrics = train_student(run.store, model_id, config_path, s.name)
            trained[s.name] = TrainedStage(model=model_id, teacher=teacher, **{k: metrics.get(k) for k in SHOWN})
        return run.finish(DistillSummary(chain=name, stages=trained))
