"""How the CLI prints what it got: a flow's summary as a table, rows as a table for people or
CSV / JSON for programs."""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum

from rich.console import Console
from rich.table import Table

from upscway.outcomes import headline
from upscway.records import RunStatus
from upscway.summaries import NightlySummary, Summary


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def print_summary(console: Console, title: str, summary: Summary, steps_shown: bool = False) -> None:
    """A table of the summary's figures (its keys as stored); a nightly run's steps get a row each,
    unless `steps_shown` (each step's line was printed as it ended: the rows would repeat them).
    Nested details (stages, labels, criteria) are in the step lines above, the run's log and `upscway status`."""
    table = Table(title=title, show_header=False)
    for key, value in summary.model_dump().items():
        if key == "steps" and isinstance(summary, NightlySummary):
            for step, outcome in ({} if steps_shown else summary.steps).items():
                table.add_row(step, RunStatus(outcome.status).shown, headline(outcome))
        elif not isinstance(value, (dict, list)):
            table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)


ERRORS_SHOWN = 20  # a file of a million bad rows is reported in a screenful


def print_import(console: Console, err_console: Console, file, errors: list[tuple[int, str]], report=None) -> None:
    """A review import: its first invalid rows as `file:line: reason` and how many more there
    are, then (when it stored anything) what was imported, the gold labels by class and the
    agreement between annotators."""
    for line, reason in errors[:ERRORS_SHOWN]:
        err_console.print(f"{file}:{line}: {reason}", markup=False, highlight=False)
    if len(errors) > ERRORS_SHOWN:
        err_console.print(f"{file}: … and {len(errors) - ERRORS_SHOWN} more invalid rows ({len(errors)} in all)")
    if report is None:
        return
    console.print(
        f"imported {report.added} labels (import {report.import_id}), {report.unchanged} unchanged, "
        f"{report.blank} rows left blank, {len(report.errors)} invalid rows skipped",
        soft_wrap=True,
    )
    console.print("gold labels by class: " + ", ".join(f"{k} {v}" for k, v in report.by_label.items()))
    for pair in report.agreement:
        console.print(f"agreement {pair.a} vs {pair.b}: {pair.chunks} chunks, Cohen's kappa {pair.kappa:.3f}")


def print_rows(
    console: Console, columns: list[str], rows: list[tuple], fmt: OutputFormat, title: str | None = None
) -> None:
    """A table for people; CSV (LF line ends, so a value piped on carries no `\\r`) or JSON for
    programs. The table never shortens its first column (ids are pasted into other commands)
    and folds long values instead of cutting them."""
    if fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt is OutputFormat.json:
        print(json.dumps([dict(zip(columns, row)) for row in rows], default=str, ensure_ascii=False, indent=2))
    else:
        cells = [["" if v is None else str(v) for v in row] for row in rows]
        first = max([len(columns[0]), *(len(c[0]) for c in cells)]) if columns else 0
        table = Table(title=title)
        for i, name in enumerate(columns):
            table.add_column(name, no_wrap=i == 0, min_width=first if i == 0 else None, overflow="fold")
        for row in cells:
            table.add_row(*row)
        console.print(table)
