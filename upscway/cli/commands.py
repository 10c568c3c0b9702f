"""What the CLI's non-flow commands do, composed from tasks and storage so the CLI itself only
parses arguments and prints: importing answers computed elsewhere, the review loop, the model
registry, SQL and the store's status.
Each takes the settings the CLI built once."""

from __future__ import annotations

import json
from pathlib import Path

from upscway.errors import InputError
from upscway.flows.context import open_store
from upscway.results import StudentMetrics
from upscway.settings import Settings
from upscway.storage import adhoc
from upscway.storage import status as status_reports
from upscway.storage.answer_imports import AnswerImport
from upscway.storage.models import ModelRecord
from upscway.storage.store import Store
from upscway.tasks import registry
from upscway.tasks.annotate import imports as answer_imports
from upscway.tasks.annotate.imports import CheckedAnswers
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.gold.review import ImportReport, export_for_review, import_reviewed
from upscway.tasks.gold.review import InvalidRows as InvalidRows  # what gold_import raises, for the CLI
from upscway.tasks.promotion import clear_fallback, rollback
from upscway.tasks.study.spec import load_spec
from upscway.taxonomy import load_task

Table = tuple[list[str], list[tuple]]


def check_answers(settings: Settings, file: Path, annotator: str) -> CheckedAnswers:
    """Every line of an answers file checked against the task and the store; nothing is stored."""
    return answer_imports.check_answers(open_store(settings), load_task(settings.task.file), file, annotator)


def store_answers(settings: Settings, checked: CheckedAnswers) -> AnswerImport:
    """The checked answers stored in one transaction (all or nothing), the import recorded."""
    return answer_imports.store_answers(open_store(settings), checked)


def gold_export(
    settings: Settings, strategy: str, n: int, out: Path, annotator: str | None, seed: int, label: str | None
) -> tuple[str, int, int]:
    """(annotator shown, written, candidates): the configured teacher's answers unless `annotator` names another."""
    shown = annotator or annotator_of(settings.teacher)
    return shown, *export_for_review(
        open_store(settings), load_task(settings.task.file), strategy, n, out, shown, seed, label
    )


def gold_import(settings: Settings, file: Path, annotator: str | None, skip_invalid: bool) -> ImportReport:
    task_def = load_task(settings.task.file)
    return import_reviewed(open_store(settings), task_def, file, annotator, skip_invalid, settings.chunk.tokenizer)


def models_table(settings: Settings) -> Table:
    return registry.list_models(open_store(settings))


def model(settings: Settings, model_id: str) -> ModelRecord:
    return registry.model(open_store(settings), model_id)


def model_fields(found: ModelRecord) -> list[tuple[str, str]]:
    """A model as (field, value) rows; its configuration and metrics one row per entry."""
    rows = []
    for name, value in vars(found).items():
        if isinstance(value, StudentMetrics):
            value = value.stored()  # the metrics as stored, one row per key
        if isinstance(value, dict):
            rows += [
                (f"{name}.{key}", json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for key, v in value.items()
            ]
        else:
            rows.append((name, "" if value is None else str(value)))
    return rows


def export_model(settings: Settings, model_id: str, out: Path) -> None:
    registry.export_model(open_store(settings), model_id, out)


def quantize_model(settings: Settings, model_id: str) -> tuple[ModelRecord, bool]:
    return registry.quantize_int8(open_store(settings), model_id, load_task(settings.task.file))


def rollback_production(settings: Settings, reason: str | None) -> tuple[str, str]:
    return rollback(open_store(settings), reason)


def clear_production_fallback(settings: Settings, reason: str | None) -> tuple[str, int]:
    return clear_fallback(open_store(settings), reason)


def _reader(settings: Settings) -> Store:
    """The store for reading only: no migration, so a query never writes to the file."""
    return Store(settings.database_path, settings.storage.lock_timeout_s)


def sql(settings: Settings, query: str) -> Table:
    return adhoc.run_query(_reader(settings), query, limits=settings.sql)


def named_queries_table() -> Table:
    """Every named report with its parameters (name=default description)."""
    rows = [
        (q.name, q.what, "; ".join(f"{p} {p.description}".strip() for p in q.parameters))
        for q in adhoc.named_queries().values()
    ]
    return ["query", "what", "parameters (name=default description)"], rows


def parse_params(items: list[str]) -> dict[str, str]:
    """`--param name=value` flags as a dict; an item without `=` is an InputError naming it."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--param {item!r}: expected name=value")
        pairs[key.strip()] = value
    return pairs


def named_query(settings: Settings, name: str, params: dict[str, str]) -> Table:
    return adhoc.run_named(_reader(settings), name, params, settings.sql)


def status(settings: Settings) -> list[status_reports.Report]:
    """(title, columns, rows) of each of the store's status reports (storage/status.py)."""
    return status_reports.status_reports(_reader(settings))


def check_study_spec(spec: Path, quick: bool) -> None:
    """A study spec validated (an InputError naming the file and key) before any run starts."""
    load_spec(str(spec), quick)
