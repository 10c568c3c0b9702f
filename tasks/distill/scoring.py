"""A registered student as a labeller: what evaluation and the cascade score chunks with."""

from __future__ import annotations

from pathlib import Path

from upscway.tasks.annotate.taxonomy import TaskDefinition


def student_scorer(model: dict, task_def: TaskDefinition):
    """A `Teacher` for a `models` row: the encoder itself, or a causal LM's adapter merged into
    its base once (kept in `<path>/merged`)."""
    if model["kind"] == "encoder":
        from upscway.tasks.distill.encoder import EncoderTeacher

        return EncoderTeacher(task_def, model["path"], annotator_id=f"model:{model['id']}")
    from upscway.tasks.annotate.local_teacher import CausalLMTeacher
    from upscway.tasks.distill.causal_lm import merge_adapter

    merged = Path(model["path"]) / "merged"
    if not (merged / "config.json").exists():
        merge_adapter(model["base_model"], model["path"], merged)
    teacher = CausalLMTeacher(task_def, merged)
    teacher.annotator_id = f"model:{model['id']}"
    return teacher
