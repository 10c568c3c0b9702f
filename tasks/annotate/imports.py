"""`upscway annotate import`: teacher answers computed elsewhere into the store, exactly once.

Everything is checked first: every line of the file (recorded.py), and the chunk each names
must be in the store (a `chunk_id` is resolved to its text hash, a `text_hash` must be some
stored chunk's), so a typo is refused rather than stored under no chunk. One bad line and
nothing is stored (InvalidAnswers, exit 2). Then every answer is inserted in one transaction
under `annotator`, with the import's id as `flow_run_id`, and the import is recorded in
`answer_imports`: all or nothing, so a process killed mid-import leaves nothing of it. An
answer whose key (text hash, annotator, prompt version) is stored already is left as it is, so
a rerun of the same file adds none.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from upscway.errors import InputError
from upscway.storage import annotations as annotation_rows
from upscway.storage import answer_imports
from upscway.storage.answer_imports import AnswerImport
from upscway.storage.store import Store
from upscway.tasks.annotate.recorded import InvalidAnswers, RecordedAnswer, one_per_chunk, read_answer_file
from upscway.tasks.limits import writer_slot
from upscway.taxonomy import TaskDefinition

LOGGER = logging.getLogger(__name__)
NOTHING_STORED = "nothing imported"


@dataclass(frozen=True)
class CheckedAnswers:
    """An answers file of which every line is valid and names a stored chunk: one answer per
    text hash (each with its `text_hash`), to be stored under `annotator` for `task`."""

    file: Path
    task: TaskDefinition
    annotator: str
    lines: int
    answers: tuple[RecordedAnswer, ...]

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted({answer.model for answer in self.answers}))


def import_answers(store: Store, task: TaskDefinition, file: Path, annotator: str) -> AnswerImport:
    """Check the whole file, then store all of its answers in one transaction (see the module)."""
    return store_answers(store, check_answers(store, task, file, annotator))


def check_answers(store: Store, task: TaskDefinition, file: Path, annotator: str) -> CheckedAnswers:
    """The file's answers, each with the text hash of a stored chunk; any invalid line, a chunk
    the store lacks, or two lines giving one text different answers: InvalidAnswers, naming
    the lines."""
    if not annotator.strip():
        raise InputError("--annotator must name who the answers are stored under (teacher.annotator names it)")
    read = read_answer_file(file, task)
    if not read.lines:
        raise InputError(f"the answers file {file} has no answers (one JSON object a line); {NOTHING_STORED}")
    with store.reader() as conn:
        by_id = answer_imports.chunk_hashes(conn, [a.chunk_id for a in read.answers if a.chunk_id is not None])
        stored = answer_imports.stored_hashes(conn, [a.text_hash for a in read.answers if a.text_hash is not None])
    resolved, errors = [], list(read.errors)
    for answer in read.answers:
        if answer.chunk_id is not None and answer.chunk_id not in by_id:
            errors.append((answer.line, f"chunk_id {answer.chunk_id!r} is not a stored chunk's id"))
        elif answer.text_hash is not None and answer.text_hash not in stored:
            errors.append((answer.line, f"text_hash {answer.text_hash} is no stored chunk's: no chunk has that text"))
        else:
            resolved.append(answer if answer.chunk_id is None else answer.with_hash(by_id[answer.chunk_id]))
    # Two chunks with one text are one answer in the store (it is keyed by the text's hash).
    kept, conflicts = one_per_chunk(
        resolved,
        lambda a: a.text_hash,
        lambda a, first: f"{a.chunk} has the text of line {first.line}'s chunk, which that line answers differently",
    )
    if errors or conflicts:
        raise InvalidAnswers(read.path, errors + conflicts, read.lines, NOTHING_STORED)
    return CheckedAnswers(read.path, task, annotator.strip(), read.lines, tuple(kept))


def store_answers(store: Store, checked: CheckedAnswers) -> AnswerImport:
    """Insert every checked answer and record the import, in one transaction; an answer already
    stored for its key is counted `unchanged`."""
    task = checked.task
    import_id = f"import:{uuid.uuid4().hex[:12]}"
    rows = [_row(answer, task) for answer in checked.answers]
    with writer_slot(), store.transaction() as conn:
        added = annotation_rows.insert(conn, rows, checked.annotator, task.name, task.version, import_id)
        done = AnswerImport(
            import_id=import_id,
            file=str(checked.file),
            annotator=checked.annotator,
            task=task.name,
            prompt_version=task.version,
            models=checked.models,
            lines=checked.lines,
            added=added,
            unchanged=len(rows) - added,
        )
        answer_imports.record(conn, done)
    LOGGER.info("import %s: %d answers added, %d already stored, from %s", import_id, added, done.unchanged, done.file)
    return done


def _row(answer: RecordedAnswer, task: TaskDefinition) -> annotation_rows.AnswerRow:
    """The row the annotate flow would store for this answer from the `recorded` teacher."""
    soft = answer.soft_label()
    return annotation_rows.AnswerRow(
        text_hash=answer.text_hash,
        label=task.names[soft.label],
        label_index=soft.label,
        probs=soft.probs,
        confidence=soft.confidence,
        off_label_mass=soft.off_label_mass,
        rationale=soft.rationale,
        tokens_in=soft.tokens_in,
        tokens_out=soft.tokens_out,
        cost=soft.cost,
        latency_ms=answer.latency_ms,
    )
