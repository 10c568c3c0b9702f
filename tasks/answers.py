"""A teacher's answers on chunk texts, asked for where none is stored: what `tag` needs for the
chunks its student is unsure of, and `evaluate` for the gold chunks.

An annotator is produced by whoever can run it in this process: a registered student
(`model:<id>`) or the profile's own teacher (its name known from the settings, without loading
it). Nothing is built when every answer is already stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from upscway.errors import InputError
from upscway.records import model_of
from upscway.settings import TeacherSettings
from upscway.storage import annotations as annotation_rows
from upscway.storage.store import Store
from upscway.tasks.annotate.steps import Pending, annotate_pending
from upscway.tasks.annotate.teacher import Teachers
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.distill.scoring import as_teacher
from upscway.tasks.registry import model as registered_model
from upscway.taxonomy import TaskDefinition


def answers_of(store: Store, annotator: str, version: str, hashes: Sequence[str]) -> dict[str, list[float]]:
    """The stored answers of `annotator` (for prompt `version`) on `hashes`."""
    with store.reader() as conn:
        return annotation_rows.answers(conn, annotator, version, list(hashes))


def ensure_answers(
    store: Store,
    run_id: str,
    annotator: str,
    hashes: Sequence[str],
    teacher: TeacherSettings,
    task_def: TaskDefinition,
    resources: Teachers,
) -> int:
    """Ask `annotator` (built or shared by `resources`) about the texts of `hashes` it has not
    answered; returns how many were asked. An annotator this process cannot run is an
    InputError saying what is missing."""
    missing = sorted(set(hashes) - set(answers_of(store, annotator, task_def.version, hashes)))
    if not missing:
        return 0
    model_id = model_of(annotator)
    if model_id is not None:
        settings = as_teacher(registered_model(store, model_id), teacher)
    elif annotator_of(teacher) == annotator:
        settings = teacher
    else:
        raise InputError(
            f"teacher {annotator} has no stored answer for {len(missing)} chunks and this profile's teacher is not it: "
            "annotate them with that teacher first (upscway run annotate)"
        )
    annotate_pending(store, run_id, settings, task_def, resources, Pending(hashes=missing))
    return len(missing)
