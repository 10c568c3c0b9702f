"""The terminal while a flow runs: one live progress line per stage, one line per finished step.

A stage's bar is drawn while it advances and removed once it is complete, so a finished bar is
never redrawn under the next stage's work; a finished step prints one permanent line above the
live area. While it is up, the console leaves out what the flow and task runs log (their
INFO lines, and a failed run's traceback): the step lines say the same, and every word of
it stays in the run's log in the Prefect UI. Other warnings still show.
"""

from __future__ import annotations

import logging

from prefect.logging.handlers import PrefectConsoleHandler
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from upscway.records import RunStatus

MARKS = {
    RunStatus.COMPLETED.shown: "[green]✓[/green]",
    RunStatus.COMPLETED_WITH_FAILURES.shown: "[yellow]![/yellow]",
    RunStatus.FAILED.shown: "[red]✗[/red]",
    RunStatus.SKIPPED.shown: "[dim]–[/dim]",
}


class LiveDisplay:
    """A `progress.Listener` that draws on `console` (stderr, so stdout stays for data)."""

    def __init__(self, console: Console):
        self.console = console
        self.bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.stages: dict[str, int] = {}

    def __enter__(self) -> LiveDisplay:
        for handler in _console_handlers():
            handler.addFilter(_not_run_logs)
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()
        for handler in _console_handlers():
            handler.removeFilter(_not_run_logs)

    def advance(self, stage: str, done: int, total: int) -> None:
        if stage not in self.stages:
            self.stages[stage] = self.bars.add_task(stage, total=total or None)
        task = self.stages[stage]
        self.bars.update(task, completed=done, total=total or None)
        if total and done >= total:
            self.bars.remove_task(task)
            del self.stages[stage]

    def note(self, line: str) -> None:
        self.console.print(f"[dim]…[/dim] {line}", highlight=False)

    def finished(self, step: str, status: str, line: str) -> None:
        for task in self.stages.values():  # steps run one after another: what is left was theirs
            self.bars.remove_task(task)
        self.stages.clear()
        mark = MARKS.get(status, "·")
        self.console.print(f"{mark} [bold]{step:<9}[/bold] {status} {line}", highlight=False)


def _not_run_logs(record: logging.LogRecord) -> bool:
    return not record.name.startswith(("prefect.flow_runs", "prefect.task_runs"))


def _console_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
