"""A flow started as a command starts it: on settings built once, against a Prefect API (a
temporary one when none is configured), under the live progress display (or with the logs
instead), its summary printed, and the exit status its final state calls for."""

from __future__ import annotations

import importlib
from typing import Any

from rich.console import Console

from upscway import progress
from upscway.cli.display import LiveDisplay
from upscway.cli.local_api import prefect_api
from upscway.cli.tables import print_summary
from upscway.errors import EXIT_FAILURES, EXIT_OK, InputError
from upscway.flows.context import COMPLETED_WITH_FAILURES, FALLBACK, failure_of, on_setup, using
from upscway.settings import Settings
from upscway.summaries import Summary


def launch(
    flow: str, settings: Settings, verbose: bool, console: Console, err_console: Console, **parameters: Any
) -> int:
    """Run the flow of `flows/<flow>.py` on a setup of `settings` (its body `<flow>_on`, see
    flows/context.py); returns 0 when all went well, 1 when the run failed, some items did, or
    the cascade fell back to the teacher. An InputError the run failed with is raised (a usage
    error)."""
    module = importlib.import_module(f"upscway.flows.{flow}")
    with prefect_api(settings.prefect.startup_timeout_s, say=err_console.print), using(settings) as setup:
        flow_obj = on_setup(getattr(module, flow), getattr(module, f"{flow}_on"), setup)
        if verbose:
            state = flow_obj(**parameters, return_state=True)
        else:
            with LiveDisplay(err_console) as display:
                progress.listen(display)
                try:
                    state = flow_obj(**parameters, return_state=True)
                finally:
                    progress.forget(display)
    if state.is_failed() or state.is_crashed():
        outcome = failure_of(state)
        if isinstance(outcome, InputError):
            raise outcome
        if isinstance(outcome, Summary):  # a run that kept its summary (nightly with a failed step)
            print_summary(console, state.name, outcome, steps_shown=not verbose)
            err_console.print(f"[red]run failed:[/red] {state.message}")
        else:
            err_console.print(f"[red]run failed:[/red] {type(outcome).__name__}: {outcome}")
        return EXIT_FAILURES
    print_summary(console, state.name, state.result(), steps_shown=not verbose)
    if state.name in (COMPLETED_WITH_FAILURES, FALLBACK):
        err_console.print(f"[yellow]{state.message}[/yellow]")
        return EXIT_FAILURES
    return EXIT_OK
