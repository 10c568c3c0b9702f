"""Human review: which chunks to show people, and reading back what they decided.

Export picks chunks by teacher uncertainty, by disagreement between annotators, or at random
among the chunks of the articles drawn for calibration (`random`, `audit`): those sheets are
blind, showing no model's label or probabilities, and carry each chunk's chance of being on it.
Import reads the exported CSV (with `gold_label` filled) or a Label Studio JSON export,
validates every row and reports each bad one with its line (or task) number and reason.
Agreement between people is Cohen's kappa on the chunks both labelled.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from upscway.config_files import describe
from upscway.errors import InputError
from upscway.inputs import read_text
from upscway.records import Candidate, GoldRow
from upscway.taxonomy import TaskDefinition

CSV_COLUMNS = [
    "chunk_id",
    "text",
    "title",
    "source_url",
    "date",
    "teacher",
    "teacher_label",
    "teacher_probs",
    "sampling",
    "sampling_probability",
    "gold_label",
    "annotator",
    "note",
]
STRATEGIES = ("uncertainty", "disagreement", "random", "audit")
BLIND = ("random", "audit")  # uniform draws of calibration chunks, reviewed without any model's answer
# How a reviewed chunk was chosen; `authored`: written for review, not drawn.
SAMPLINGS = ("uncertainty", "disagreement", "random", "authored")

# OWASP's CSV-injection guidance: a cell a spreadsheet would read as a formula (leading =, +, -,
# @, tab or carriage return) is written with a leading apostrophe, which spreadsheets show as
# text. A cell that starts with an apostrophe gets one too, so reading back removes exactly one
# and every text round-trips unchanged.
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r", "'")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 controls and DEL, but tab and line ends


def for_spreadsheet(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_LEAD) else text


def from_spreadsheet(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _chance(text: str) -> float | None:
    """A sheet's `sampling_probability` cell: empty is None; anything unparsable is NaN, which
    validation refuses with the row's line."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return float("nan")


def select(
    candidates: Sequence[Candidate], strategy: str, n: int, disagreeing: set[str] = frozenset(), seed: int = 0
) -> list[Candidate]:
    """`n` chunks for review: least confident first, only disagreements (least confident
    first), or a seeded uniform sample without replacement (`random`, `audit`: of the
    calibration chunks it is given)."""
    if strategy == "uncertainty":
        return sorted(candidates, key=lambda c: (c.confidence, c.chunk_id))[:n]
    if strategy == "disagreement":
        return sorted((c for c in candidates if c.text_hash in disagreeing), key=lambda c: (c.confidence, c.chunk_id))[
            :n
        ]
    if strategy in BLIND:
        pool = sorted(candidates, key=lambda c: c.chunk_id)
        return random.Random(seed).sample(pool, min(n, len(pool)))
    raise InputError(f"--strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")


def _probs(c: Candidate, task: TaskDefinition) -> dict[str, float]:
    return {name: round(p, 4) for name, p in zip(task.names, c.probs)}


def sampling_probability(strategy: str, chosen: int, candidates: int, drawn: float = 1.0) -> float | None:
    """A chunk's chance of being on a `random` or `audit` sheet: the chance `drawn` that its
    article was drawn for calibration, times its chance of being among the `chosen` of the
    `candidates` (a uniform sample without replacement); None for the other strategies, which
    choose rather than draw."""
    return drawn * chosen / candidates if strategy in BLIND and candidates else None


def _chances(rows: Sequence[Candidate], probability: float | Sequence[float | None] | None) -> list[float | None]:
    """One chance per row: `probability` is one for every row (None: not drawn) or one per row."""
    if probability is None or isinstance(probability, (int, float)):
        return [probability] * len(rows)
    if len(probability) != len(rows):
        raise ValueError(f"{len(probability)} sampling probabilities for {len(rows)} rows")
    return list(probability)


def write_csv(
    path: Path,
    rows: Sequence[Candidate],
    task: TaskDefinition,
    strategy: str = "",
    probability: float | Sequence[float | None] | None = None,
    blind: bool = False,
) -> None:
    """The review sheet: the chunk, its article, the named annotator's answer (none when
    `blind`: the `teacher`, `teacher_label` and `teacher_probs` cells are left empty), how the
    chunk was chosen (`strategy`, with its chance of being drawn for `random`: one for every
    row, or one per row), and empty `gold_label`, `annotator` and `note` columns for the
    reviewer."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for c, chance in zip(rows, _chances(rows, probability)):
            answer = ("", "", "") if blind else (c.annotator, c.teacher_label, json.dumps(_probs(c, task)))
            writer.writerow(
                [
                    for_spreadsheet(v)
                    for v in (
                        c.chunk_id,
                        c.text,
                        c.title,
                        c.source_url,
                        c.date,
                        *answer,
                        strategy,
                        "" if chance is None else f"{chance:.12g}",
                        "",
                        "",
                        "",
                    )
                ]
            )


def write_label_studio(
    path: Path,
    rows: Sequence[Candidate],
    task: TaskDefinition,
    strategy: str = "",
    probability: float | Sequence[float | None] | None = None,
    blind: bool = False,
) -> None:
    """Label Studio tasks (import them into a project with a `choices` control named `label`
    on the `text` object): the annotator's answer is a pre-annotation (a prediction), so a
    reviewer accepts or changes it (`blind`: no prediction, the reviewer labels from scratch);
    `upscway gold import` reads Label Studio's export back."""
    tasks = [
        {
            "data": {
                "chunk_id": c.chunk_id,
                "text": c.text,
                "title": c.title,
                "source_url": c.source_url,
                "date": c.date,
                "sampling": strategy,
                "sampling_probability": chance,
            },
            "predictions": []
            if blind
            else [
                {
                    "model_version": c.annotator,
                    "score": round(c.confidence, 4),
                    "result": [
                        {
                            "from_name": "label",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": [c.teacher_label]},
                        }
                    ],
                }
            ],
        }
        for c, chance in zip(rows, _chances(rows, probability))
    ]
    Path(path).write_text(json.dumps(tasks, ensure_ascii=False, indent=2), encoding="utf-8")


def read_csv(path: Path, default_annotator: str | None = None) -> list[GoldRow]:
    """Rows of an exported CSV, each cell as it was before export (see `for_spreadsheet`);
    line numbers count the header as line 1. A sheet whose rows do not have one cell per
    header column (a header that lost cells while its rows kept them shifts every value into
    the wrong column: the teacher's label read as gold) is an InputError naming the first such
    line: nothing of it is imported, --skip-invalid or not."""
    text = read_text(path, "gold file", encoding="utf-8-sig")  # Excel saves CSV with a BOM
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, [])
        missing = {"chunk_id", "text", "gold_label"} - set(header)
        if missing:
            raise InputError(
                f"{path}: missing column(s) {', '.join(sorted(missing))}; expected {','.join(CSV_COLUMNS)}"
            )
        lines = [(reader.line_num, cells) for cells in reader if cells]
    except csv.Error as exc:
        raise InputError(f"cannot read gold file {path}: {exc}") from None
    _same_shape(path, header, lines)
    return [
        _gold_row(line, dict(zip(header, map(from_spreadsheet, cells))), default_annotator) for line, cells in lines
    ]


def _same_shape(path: Path, header: list[str], lines: list[tuple[int, list[str]]]) -> None:
    """Every row has as many cells as the header, or the sheet is refused naming the first that does not."""
    misshapen = [(line, len(cells)) for line, cells in lines if len(cells) != len(header)]
    if misshapen:
        (line, cells), more = misshapen[0], len(misshapen) - 1
        others = f" (and {more} more line{'s' if more > 1 else ''})" if more else ""
        raise InputError(
            f"{path}: line {line} has {cells} cells, the header {len(header)}{others}; "
            "a row needs one cell per column: nothing imported"
        )


def _gold_row(line: int, cell: dict[str, str], default_annotator: str | None) -> GoldRow:
    return GoldRow(
        line=line,
        chunk_id=cell.get("chunk_id", "").strip(),
        text=cell.get("text", ""),
        gold_label=cell.get("gold_label", "").strip(),
        annotator=cell.get("annotator", "").strip() or (default_annotator or ""),
        note=cell.get("note", ""),
        source_url=cell.get("source_url", ""),
        sampling=cell.get("sampling", "").strip(),
        sampling_probability=_chance(cell.get("sampling_probability", "")),
    )


class _LSValue(BaseModel):
    model_config = ConfigDict(extra="ignore")
    choices: list[str] = Field(default_factory=list)


class _LSResult(BaseModel):
    model_config = ConfigDict(extra="ignore")
    value: _LSValue = _LSValue()


class _LSUser(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: str | None = None
    id: int | str | None = None


class _LSAnnotation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    result: list[_LSResult] = Field(default_factory=list)
    completed_by: int | str | _LSUser | None = None


class _LSData(BaseModel):
    model_config = ConfigDict(extra="ignore")
    chunk_id: str | int | None = None
    text: str | None = None
    source_url: str | None = None
    sampling: str | None = None
    sampling_probability: float | None = None


class _LSTask(BaseModel):
    """The part of a Label Studio export task that import reads; other keys are Label Studio's."""

    model_config = ConfigDict(extra="ignore")
    data: _LSData = _LSData()
    annotations: list[_LSAnnotation] = Field(default_factory=list)


def read_label_studio(path: Path, default_annotator: str | None = None) -> list[GoldRow]:
    """Rows of a Label Studio JSON export: one per (task, annotation) with a choice; the
    line number is the task's position in the export (1-based). A task of the wrong shape is
    an InputError naming the file and the first such task."""
    text = read_text(path, "Label Studio export")
    try:
        tasks = json.loads(text)
    except ValueError as exc:
        raise InputError(f"cannot read Label Studio export {path}: {exc}") from None
    except RecursionError:
        raise InputError(f"cannot read Label Studio export {path}: nested too deeply to be an export") from None
    if not isinstance(tasks, list):
        raise InputError(f"{path}: a Label Studio export is a JSON list of tasks")
    rows = []
    for number, item in enumerate(tasks, start=1):
        try:
            task = _LSTask.model_validate(item)
        except (ValidationError, RecursionError) as exc:
            why = describe(exc) if isinstance(exc, ValidationError) else "nested too deeply"
            raise InputError(f"{path}: task {number} is not a Label Studio task: {why}") from None
        for annotation in task.annotations:
            choices = [c for r in annotation.result for c in r.value.choices]
            who = annotation.completed_by
            if isinstance(who, _LSUser):
                who = who.email or who.id
            rows.append(
                GoldRow(
                    line=number,
                    chunk_id=str(task.data.chunk_id or ""),
                    text=task.data.text or "",
                    gold_label=choices[0] if len(choices) == 1 else ("|".join(choices) if choices else ""),
                    annotator=str(who or default_annotator or ""),
                    source_url=task.data.source_url or "",
                    sampling=task.data.sampling or "",
                    sampling_probability=task.data.sampling_probability,
                )
            )
    return rows


def validate(
    rows: Sequence[GoldRow], task: TaskDefinition, stored_texts: dict[str, str]
) -> tuple[list[GoldRow], list[tuple[int, str]]]:
    """(valid rows, [(line, reason)]). A row needs a known label, an annotator, and either a
    stored chunk id (whose text, if given, must match) or the text of a new chunk."""
    valid, errors = [], []
    by_folded = {name.casefold(): name for name in task.names}
    for row in rows:
        reason = None
        row.gold_label = by_folded.get(row.gold_label.casefold(), row.gold_label)  # labels in any case
        control = next(
            (CONTROL.search(v) for v in (row.text, row.note, row.annotator, row.chunk_id) if CONTROL.search(v)), None
        )
        if not row.chunk_id and not row.sampling:
            row.sampling = "authored"  # a paragraph with no chunk behind it was written, not drawn from the news
        if control:
            reason = f"holds the control character U+{ord(control.group()):04X}, which no reviewed text has"
        elif not row.gold_label:
            reason = "gold_label is empty"
        elif row.gold_label not in task.names:
            reason = f"gold_label {row.gold_label!r} is not one of {', '.join(task.names)}"
        elif not row.annotator:
            reason = "annotator is empty (fill the column or pass --annotator)"
        elif row.chunk_id and row.chunk_id not in stored_texts:
            reason = f"chunk_id {row.chunk_id!r} is not in the store"
        elif row.chunk_id and row.text.strip() and row.text.strip() != stored_texts[row.chunk_id].strip():
            reason = f"text differs from stored chunk {row.chunk_id}"
        elif not row.chunk_id and not row.text.strip():
            reason = "neither chunk_id nor text"
        elif row.sampling and row.sampling not in SAMPLINGS:
            reason = f"sampling {row.sampling!r} is not one of {', '.join(SAMPLINGS)}"
        elif row.sampling_probability is not None and not (0 < row.sampling_probability <= 1):
            reason = f"sampling_probability {row.sampling_probability!r} is not a probability in (0, 1]"
        elif row.sampling == "random" and row.sampling_probability is None:
            reason = "sampling is random but sampling_probability is empty (the chance each chunk had of being drawn)"
        if reason:
            errors.append((row.line, reason))
        else:
            valid.append(row)
    return _without_conflicts(valid, errors)


def _without_conflicts(
    valid: list[GoldRow], errors: list[tuple[int, str]]
) -> tuple[list[GoldRow], list[tuple[int, str]]]:
    """Rows for one chunk (or one new text) and one annotator must agree: rows that give it
    different labels are all errors, naming each other; a row repeating another's label is
    imported once."""
    by_key: dict[tuple[str, str], list[GoldRow]] = {}
    for row in valid:
        by_key.setdefault((row.chunk_id or row.text.strip(), row.annotator), []).append(row)
    kept = []
    for (_, annotator), group in by_key.items():
        if len({r.gold_label for r in group}) == 1:
            kept.append(group[0])
            continue
        said = ", ".join(f"line {r.line}: {r.gold_label}" for r in group)
        errors += [
            (r.line, f"conflicts with another row for the same chunk and annotator {annotator!r} ({said})")
            for r in group
        ]
    errors.sort()
    return sorted(kept, key=lambda r: r.line), errors


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters over the same items; None without items, 1.0 when both
    always give one and the same label (chance agreement 1)."""
    if len(a) != len(b):
        raise ValueError("raters must label the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1 - expected)
