"""Flow `distill`: train each stage of a chain; a stage taught by an earlier stage first has
that student relabel the chunks (stored as annotations under `model:<id>`).

Between stages a causal-LM student's LoRA is merged into its base and scores every chunk once;
the next stage then reads those stored probabilities, so two large models are never loaded at
once. Every trained student is registered in `models` as a candidate.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.states import State

from upscway.errors import InputError
from upscway.flows.annotate import annotate_pending
from upscway.flows.common import RunContext, begin_run, end_run, fail_run
from upscway.storage import models as registry
from upscway.tasks.annotate.steps import close_teachers
from upscway.tasks.annotate.taxonomy import TaskDefinition, load_task
from upscway.tasks.distill.chains import Stage, load_chain
from upscway.tasks.distill.steps import prepare_stage, train_student


def _teacher_of(ctx: RunContext, chain: str, stage: Stage, task_def: TaskDefinition) -> str:
    """The annotator id whose labels this stage learns from, relabelling first if needed."""
    if stage.teacher.annotations:
        return stage.teacher.annotations
    with ctx.store.reader() as conn:
        found = registry.latest_of_stage(conn, chain, stage.teacher.stage)
    if found is None:
        raise InputError(f"stage {stage.name} is taught by stage {stage.teacher.stage!r}, which has no trained candidate yet")
    model_id, path, kind = found
    local = Path(path)
    if kind == "causal-lm":
        from upscway.tasks.distill.causal_lm import merge_adapter

        with ctx.store.reader() as conn:
            base = registry.get(conn, model_id)["base_model"]
        local = Path(path) / "merged"
        if not (local / "config.json").exists():
            merge_adapter(base, path, local)
    settings = ctx.settings.teacher.model_copy(
        update={"backend": "encoder" if kind == "encoder" else "transformers", "local_model": local, "annotator": f"model:{model_id}"}
    )
    annotate_pending(ctx, settings, task_def)
    return settings.annotator


@flow(name="distill")
def distill(chain: str | None = None, stage: str | None = None, profile: str | None = None, data_dir: str | None = None) -> State:
    """Train the stages of `chain` (default: the profile's), or only `stage`."""
    ctx = begin_run("distill", profile, data_dir, {"chain": chain, "stage": stage})
    try:
        name = chain or ctx.settings.distill.chain
        stages = load_chain(name, ctx.settings.distill.chains_file)
        if stage is not None:
            stages = [s for s in stages if s.name == stage]
            if not stages:
                raise InputError(f"chain {name} has no stage {stage!r}")
        task_def = load_task(ctx.settings.teacher.task_file)
        trained = {}
        for s in stages:
            teacher = _teacher_of(ctx, name, s, task_def)
            model_id, config_path = prepare_stage(ctx.store, ctx.layout, ctx.run_id, name, s, task_def, teacher, ctx.settings.distill)
            metrics = train_student(ctx.store, model_id, config_path, s.name)
            trained[s.name] = {"model": model_id, "teacher": teacher, **{k: metrics.get(k) for k in ("train_examples", "steps", "last_kd", "validation_agreement_with_teacher")}}
    except BaseException as exc:
        fail_run(ctx, exc)
        raise
    finally:
        close_teachers()
    return end_run(ctx, {"chain": name, "stages": trained})
