"""`upscway [--profile P] [--data-dir D] [--verbose] COMMAND`: start flows, query the store.

Exit status: 0 all went well; 1 the run finished with some failed items (or failed);
2 bad usage or input.

Example: upscway --profile demo run nightly --limit 50
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import get_args

# The CLI runs offline by default; a user's own environment still wins.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Without --verbose the terminal shows progress and outcomes, not logs: Prefect's console
# handler keeps warnings and errors only (its API handler still sends every INFO line to the
# run's log in the UI), and transformers keeps its loading bars and notices to itself. Set
# before anything imports Prefect or transformers, which read them once.
QUIET = {
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}

import typer
from rich.console import Console

from upscway.cli.tables import OutputFormat, print_import, print_rows
from upscway.errors import EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, InputError
from upscway.flows.parameters import SKIPPABLE
from upscway.inputs import BackfillInput
from upscway.settings import TeacherBackend

# Choices as typer takes them (an Enum), from the one place each is defined.
Backend = Enum("Backend", {name: name for name in get_args(TeacherBackend)}, type=str)
Step = Enum("Step", {name: name for name in SKIPPABLE}, type=str)

# No command: the callback prints a welcome (`upscway --help` shows everything).
app = typer.Typer(add_completion=False, help=__doc__)
run_app = typer.Typer(
    no_args_is_help=True,
    help="Start a flow in this process.\n\nExample: upscway --profile demo run nightly --skip distill",
)
app.add_typer(run_app, name="run")
gold_app = typer.Typer(
    no_args_is_help=True,
    help="Human review: export chunks to verify, import the verified labels.\n\n"
    "Example: upscway gold export --strategy uncertainty --n 100 --out review.csv",
)
app.add_typer(gold_app, name="gold")
models_app = typer.Typer(
    no_args_is_help=True, help="The model registry.\n\nExample: upscway --profile demo models list"
)
app.add_typer(models_app, name="models")
annotate_app = typer.Typer(
    no_args_is_help=True,
    help="Teacher answers computed elsewhere: import them into the silver store.\n\n"
    "Example: upscway annotate import answers.jsonl --annotator qwen72b-batch",
)
app.add_typer(annotate_app, name="annotate")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


WELCOME = """upscway: a teacher LLM distilled into small students that tag news for UPSC.

New here? The two commands to run next:
  make demo    three nights over the bundled news, offline
  make test    the test suite

Everything else: upscway --help"""


@app.callback(invoke_without_command=True)
def main_options(
    ctx: typer.Context,
    profile: str | None = typer.Option(
        None, "--profile", envvar="UPSCWAY_PROFILE", help="Profile in deployments/profiles/."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", envvar="UPSCWAY_DATA_DIR", help="Data directory (DuckDB file DIR/upscway.duckdb)."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show the runs' INFO logs instead of the live progress display."
    ),
) -> None:
    if not verbose:
        for name, value in QUIET.items():
            os.environ.setdefault(name, value)
    ctx.obj = {"profile": profile, "data_dir": str(data_dir) if data_dir else None, "verbose": verbose}
    if ctx.invoked_subcommand is None:
        console.print(WELCOME, markup=False, highlight=False)


def _settings(ctx: typer.Context):
    """The settings, built once per command from the profile, the environment and the flags."""
    if "settings" not in ctx.obj:
        from upscway.settings import load_settings

        ctx.obj["settings"] = load_settings(ctx.obj["profile"], ctx.obj["data_dir"])
    return ctx.obj["settings"]


def _run(ctx: typer.Context, flow: str, **parameters) -> None:
    """Run the flow of `flows/<flow>.py` on the command's settings (bad settings are usage
    errors before anything starts) with progress, and exit by its final state."""
    from upscway.cli.launch import launch

    code = launch(flow, _settings(ctx), ctx.obj["verbose"], console, err_console, **parameters)
    if code != EXIT_OK:
        raise typer.Exit(code)


def _commands():
    """The non-flow commands, imported when one runs (they bring in Prefect and the stores)."""
    from upscway.cli import commands

    return commands


def _path(path: Path | None) -> str | None:
    return str(path) if path else None


@run_app.command("ingest")
def run_ingest(
    ctx: typer.Context,
    feeds: Path | None = typer.Option(None, help="Feeds file (default: the profile's, deployments/feeds.yaml)."),
    source: str | None = typer.Option(None, help="Only this source."),
    limit: int | None = typer.Option(None, min=1, help="Fetch at most N new pages."),
) -> None:
    """Fetch feeds, then the new articles they list; extract, deduplicate, chunk and store.

    Example: upscway run ingest --source the-hindu-national --limit 20
    """
    _run(ctx, "ingest", feeds=_path(feeds), source=source, limit=limit)


@run_app.command("backfill")
def run_backfill(
    ctx: typer.Context,
    source: str | None = typer.Option(
        None, help="Source whose sitemaps to read (with --since), or to file pages under."
    ),
    since: str | None = typer.Option(None, help="First day (YYYY-MM-DD) of sitemap entries to fetch."),
    until: str | None = typer.Option(None, help="Last day (YYYY-MM-DD), default today."),
    urls: Path | None = typer.Option(None, help="File with one URL per line."),
    html_dir: Path | None = typer.Option(None, help="Folder of saved pages (*.html)."),
    feeds: Path | None = typer.Option(None, help="Feeds file that defines the sources."),
    limit: int | None = typer.Option(None, min=1, help="Fetch at most N new pages."),
) -> None:
    """Past articles from a source's sitemaps, a list of URLs, or a folder of saved pages.

    Example: upscway run backfill --source the-hindu-national --since 2025-01-01
    """
    what = BackfillInput(
        source=source, since=since, until=until, urls=_path(urls), html_dir=_path(html_dir), feeds=_path(feeds)
    )
    _run(ctx, "backfill", what=what, limit=limit)


@run_app.command("annotate")
def run_annotate(
    ctx: typer.Context,
    teacher: Backend | None = typer.Option(None, help="Teacher backend (default: the profile's)."),
    only_unlabeled: bool = typer.Option(False, "--only-unlabeled", help="Only chunks no teacher has labelled yet."),
    since: str | None = typer.Option(None, help="Only articles published (or stored) on or after YYYY-MM-DD."),
    source: str | None = typer.Option(None, help="Only this source."),
    limit: int | None = typer.Option(None, min=1, help="Annotate at most N chunks."),
) -> None:
    """Label chunks with the teacher into the silver store (idempotent, resumable).

    Example: upscway run annotate --only-unlabeled --since 2025-01-01 --limit 500
    """
    _run(
        ctx,
        "annotate",
        teacher=teacher and teacher.value,
        only_unlabeled=only_unlabeled,
        since=since,
        source=source,
        limit=limit,
    )


@run_app.command("distill")
def run_distill(
    ctx: typer.Context,
    chain: str | None = typer.Option(None, help="Chain in deployments/chains.yaml (default: the profile's)."),
    stage: str | None = typer.Option(None, help="Only this stage."),
) -> None:
    """Train the students of a distillation chain; each becomes a candidate in `models`.

    Example: upscway --profile demo run distill --chain demo --stage minilm-l3
    """
    _run(ctx, "distill", chain=chain, stage=stage)


@run_app.command("evaluate")
def run_evaluate(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="Model id (see `upscway models list`)."),
    gold_split: str = typer.Option("eval", help="Gold split to score on."),
    teacher: str | None = typer.Option(
        None, help="Annotator to compare with (default: the one the model learnt from)."
    ),
) -> None:
    """Score a candidate and its teacher on the same gold chunks; store the evaluation.

    Example: upscway run evaluate --model demo-minilm-l3 --gold-split eval
    """
    _run(ctx, "evaluate", model=model, gold_split=gold_split, teacher=teacher)


@run_app.command("promote")
def run_promote(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="Model id."),
    force: bool = typer.Option(False, "--force", help="Promote even if the gate fails (needs --reason)."),
    reason: str | None = typer.Option(None, help="Why (recorded)."),
) -> None:
    """Evaluate if needed, apply the gate, and move `production` to the model on a pass.

    Example: upscway --profile demo run promote --model demo-minilm-l3
    """
    _run(ctx, "promote", model=model, force=force, reason=reason)


@run_app.command("tag")
def run_tag(
    ctx: typer.Context,
    since: str | None = typer.Option(None, help="Only articles published (or stored) on or after YYYY-MM-DD."),
    limit: int | None = typer.Option(None, min=1, help="Tag at most N chunks."),
) -> None:
    """Label new chunks with the production student; unsure ones go to the teacher.

    Example: upscway --profile demo run tag --since 2025-01-01 --limit 1000
    """
    _run(ctx, "tag", since=since, limit=limit)


@run_app.command("nightly")
def run_nightly(
    ctx: typer.Context,
    skip: list[Step] = typer.Option([], "--skip", help="Leave out a step (repeatable)."),
    source: str | None = typer.Option(None, help="Ingest only this source."),
    limit: int | None = typer.Option(None, min=1, help="Ingest at most N new pages."),
    chain: str | None = typer.Option(None, help="Chain to distil (default: the profile's)."),
    min_new_teacher_labels: int | None = typer.Option(
        None, min=0, help="Retrain after this many new teacher labels (default: the profile's; 0 = always)."
    ),
) -> None:
    """The daily pipeline: ingest, tag (with cascade), distil when due, evaluate, promote.

    Example: upscway --profile demo run nightly --limit 50
    """
    from upscway.flows.parameters import DistillStep, IngestStep, PromoteStep, TagStep

    _run(
        ctx,
        "nightly",
        ingest=IngestStep(enabled=Step.ingest not in skip, source=source, limit=limit),
        tag=TagStep(enabled=Step.tag not in skip),
        distill=DistillStep(
            enabled=Step.distill not in skip, chain=chain, min_new_teacher_labels=min_new_teacher_labels
        ),
        promote=PromoteStep(enabled=Step.promote not in skip),
    )


@run_app.command("study")
def run_study(
    ctx: typer.Context,
    spec: Path = typer.Option(..., "--spec", help="A study spec, e.g. deployments/studies/kd-grid.yaml."),
    quick: bool = typer.Option(False, "--quick", help="The spec's quick budget (fewer seeds, epochs and examples)."),
) -> None:
    """Train a study's arms over seeds on the store's data, compare them on the same gold; write the report.

    Example: upscway run study --spec deployments/studies/kd-grid.yaml --quick
    """
    _commands().check_study_spec(spec, quick)  # a usage error before the trainer is imported or a server starts
    _run(ctx, "study", spec=str(spec), quick=quick)


@annotate_app.command("import")
def annotate_import(
    ctx: typer.Context,
    file: Path = typer.Argument(
        ..., help="JSONL, one answer a line: text_hash or chunk_id, label or probs, model, prompt_version."
    ),
    annotator: str = typer.Option(
        ..., "--annotator", help="Store the answers under this annotator (teacher.annotator names it for runs)."
    ),
) -> None:
    """Import answers computed elsewhere (a batch GPU box). Every line is checked first, against
    the task and the store: one bad line and nothing is stored (exit 2). Then all are stored in
    one transaction; a rerun of the same file adds none.

    Example: upscway annotate import answers.jsonl --annotator qwen72b-batch
    """
    settings = _settings(ctx)
    checked = _commands().check_answers(settings, file, annotator)
    err_console.print(
        f"{file}: {len(checked.answers)} answers on {checked.lines} lines, all valid; storing them under {checked.annotator}",
        markup=False,
        highlight=False,
    )
    done = _commands().store_answers(settings, checked)
    models = ", ".join(done.models)
    if done.added:
        said = f"added {done.added} answers (import {done.import_id}), {done.unchanged} already stored"
    else:
        said = f"added 0 answers: all {done.unchanged} were already stored (import {done.import_id})"
    console.print(
        f"{said}; {done.lines} lines of {file}; annotator {done.annotator}, prompt {done.prompt_version}; "
        f"model{'s' if len(done.models) > 1 else ''} {models}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@gold_app.command("export")
def gold_export(
    ctx: typer.Context,
    strategy: str = typer.Option(
        "uncertainty",
        help="uncertainty | disagreement | random (uniform, of the calibration articles' chunks) | "
        "audit (uniform, of the calibration chunks of nights a production student was offloading); "
        "random and audit sheets are blind: no model's label or probabilities.",
    ),
    n: int = typer.Option(100, "--n", min=1, help="How many chunks."),
    out: Path = typer.Option(
        ..., "--out", help="CSV file to write (a .json path: Label Studio tasks with the answer as a pre-annotation)."
    ),
    annotator: str | None = typer.Option(
        None, help="Whose answers to show (default: the configured teacher; `upscway query annotators`)."
    ),
    seed: int = typer.Option(0, help="Seed of the random strategy."),
    label: str | None = typer.Option(
        None,
        help="Only chunks the annotator gave this label (e.g. GS4, to grow a paper's gold); "
        "not with random or audit, which are blind.",
    ),
) -> None:
    """Write chunks for people to verify: text, article title, URL and date, and the named
    annotator's label and probabilities; random and audit draw from the chunks of the articles
    drawn for calibration and are blind (no model's label or probabilities), each row with its
    chance of being on the sheet.

    Example: upscway gold export --strategy disagreement --n 50 --out review.csv
    """
    shown, written, candidates = _commands().gold_export(_settings(ctx), strategy, n, out, annotator, seed, label)
    console.print(
        f"wrote {written} chunks ({strategy}, of {candidates} answered by {shown} and not yet verified) to {out}"
    )


@gold_app.command("import")
def gold_import(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The exported CSV with gold_label filled, or a Label Studio JSON export."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Import the valid rows even if some are bad."),
    annotator: str | None = typer.Option(None, help="Annotator for rows that name none."),
) -> None:
    """Validate and import verified labels; earlier labels stay as history. Reports agreement.

    Example: upscway --profile demo gold import deployments/demo/gold.csv
    """
    try:
        report = _commands().gold_import(_settings(ctx), file, annotator, skip_invalid)
    except _commands().InvalidRows as exc:
        print_import(console, err_console, file, exc.errors)
        raise
    print_import(console, err_console, file, report.errors, report)
    if report.errors:
        raise typer.Exit(EXIT_FAILURES)


@models_app.command("list")
def models_list(ctx: typer.Context, format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f")) -> None:
    """Registered students, newest first.

    Example: upscway --profile demo models list --format csv
    """
    print_rows(console, *_commands().models_table(_settings(ctx)), format)


@models_app.command("show")
def models_show(
    ctx: typer.Context, model_id: str = typer.Argument(..., help="An id, or a unique prefix of one.")
) -> None:
    """One model: where it is, what taught it, its configuration and metrics.

    Example: upscway --profile demo models show demo-minilm-l3
    """
    found = _commands().model(_settings(ctx), model_id)
    print_rows(console, ["field", "value"], _commands().model_fields(found), OutputFormat.table, title=found.id)


@models_app.command("export")
def models_export(
    ctx: typer.Context, model_id: str, out: Path = typer.Option(..., "--out", help="Folder to write.")
) -> None:
    """Full Hugging Face weights: a causal-LM student's LoRA merged into its base (what vLLM serves).

    Example: upscway models export demo-causal-smollm2-lora --out smollm2/
    """
    _commands().export_model(_settings(ctx), model_id, out)
    console.print(f"exported {model_id} to {out}")


@models_app.command("quantize")
def models_quantize(
    ctx: typer.Context,
    model_id: str,
    int8: bool = typer.Option(False, "--int8", help="INT8 weights (torch dynamic quantization, for CPU scoring)."),
) -> None:
    """Register a quantized variant of an encoder student (lineage: its parent); evaluate and promote it by its id.

    Example: upscway --profile demo models quantize demo-minilm-l3 --int8
    """
    if not int8:
        raise InputError("say which quantization: --int8 (the one supported)")
    found, made = _commands().quantize_model(_settings(ctx), model_id)
    size = found.metrics.get("size_on_disk_mb")
    console.print(
        f"{'registered' if made else 'already registered:'} {found.id} (INT8 of {found.parent_id}, {size} MB); "
        f"evaluate it with `upscway run evaluate --model {found.id}`",
        soft_wrap=True,
    )


@models_app.command("promote")
def models_promote(
    ctx: typer.Context,
    model_id: str,
    force: bool = typer.Option(False, "--force"),
    reason: str | None = typer.Option(None),
) -> None:
    """Same as `upscway run promote --model ID`.

    Example: upscway --profile demo models promote demo-minilm-l3
    """
    run_promote(ctx, model=model_id, force=force, reason=reason)


@models_app.command("rollback")
def models_rollback(ctx: typer.Context, reason: str | None = typer.Option(None, help="Why (recorded).")) -> None:
    """Point `production` back at the model it held before the last promotion.

    Example: upscway models rollback --reason "worse on the new gold"
    """
    before, after = _commands().rollback_production(_settings(ctx), reason)
    console.print(f"production: {before} -> {after}")


@models_app.command("clear-fallback")
def models_clear_fallback(
    ctx: typer.Context, reason: str | None = typer.Option(None, help="Why (recorded; required).")
) -> None:
    """Let the production model offload again after a fallback (a new promotion clears it by itself).

    Example: upscway models clear-fallback --reason "drift checked by hand"
    """
    model, cleared = _commands().clear_production_fallback(_settings(ctx), reason)
    console.print(f"fallback cleared for {model} ({cleared}): the cascade offloads again from the next tag run")


@app.command("sql")
def sql_command(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="A SELECT query over the store."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """Run read-only SQL over the store (waits while a writer holds the file).

    Example: upscway sql "SELECT label, count(*) FROM tags GROUP BY ALL"
    """
    print_rows(console, *_commands().sql(_settings(ctx), query), format)


@app.command("query")
def query_command(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="A query in sql/queries/ (none: list them)."),
    param: list[str] = typer.Option([], "--param", "-p", help="name=value, repeatable."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f"),
) -> None:
    """Run a named report query (read-only).

    Example: upscway --profile demo query tagged --param label=GS2
    """
    if name is None:
        print_rows(console, *_commands().named_queries_table(), format)
    else:
        print_rows(console, *_commands().named_query(_settings(ctx), name, _commands().parse_params(param)), format)


@app.command("status")
def status_command(ctx: typer.Context) -> None:
    """What the store holds: counts, sources, last runs and failures.

    Example: upscway --profile demo status
    """
    settings = _settings(ctx)
    console.print(f"store: {settings.database_path} (profile {settings.profile})")
    for title, columns, rows in _commands().status(settings):
        print_rows(console, columns, rows, OutputFormat.table, title=title)


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    file: Path = typer.Option(Path("deployments/prefect.yaml"), "--file", help="Deployments to serve."),
    limit: int | None = typer.Option(None, min=1, help="Flow runs at once (default: no limit)."),
) -> None:
    """Serve every deployment (schedules, UI buttons) from this process until stopped.

    Runs started here use this process's settings: set UPSCWAY_PROFILE / UPSCWAY_DATA_DIR (or
    --profile / --data-dir) before starting it. Point it at a server with PREFECT_API_URL.

    Example: upscway --profile production serve --limit 4
    """
    from upscway.cli.serve import serve_deployments

    serve_deployments(_settings(ctx), file, limit)


settings_app = typer.Typer(
    no_args_is_help=True,
    help="The effective settings: profile, environment and flags combined.\n\n"
    "Example: upscway --profile demo settings show --sources",
)
app.add_typer(settings_app, name="settings")


@settings_app.command("show")
def settings_show(
    ctx: typer.Context,
    sources: bool = typer.Option(
        False, "--sources", help="Also say where each value came from: default, profile, environment or flag."
    ),
) -> None:
    """Print the effective settings, one dotted key a line (secrets masked).

    Example: upscway --profile demo settings show --sources
    """
    from upscway.settings_view import explain, lines

    root = ctx.find_root()  # how --profile and --data-dir were given: the flag or its variable
    given_by = {  # (by the source's name: typer carries its own click)
        p.name: f"environment {p.envvar}"
        if getattr(root.get_parameter_source(p.name), "name", None) == "ENVIRONMENT"
        else f"flag {p.opts[0]}"
        for p in root.command.params
        if p.name in ("profile", "data_dir")
    }
    for line in lines(explain(ctx.obj["profile"], ctx.obj["data_dir"], given_by=given_by), sources):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


_VERBOSE_FLAGS = {"--verbose", "-v"}


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: maps bad input to exit status 2 with a one-line message."""
    try:
        # Without standalone mode click returns the code of a typer.Exit instead of exiting.
        code = app(args=argv, standalone_mode=False)
        if code == EXIT_INTERRUPTED:  # typer's answer to a KeyboardInterrupt, which it does not report
            err_console.print("interrupted (Ctrl-C)")
        sys.exit(code if isinstance(code, int) else EXIT_OK)
    except (InputError, FileNotFoundError) as exc:
        if _VERBOSE_FLAGS & set(sys.argv[1:] if argv is None else argv):
            err_console.print_exception()
        err_console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        sys.exit(EXIT_INTERRUPTED if getattr(exc, "interrupted", False) else EXIT_USAGE)
    except Exception as exc:  # usage errors, from click or from the click typer carries inside it
        import click

        if isinstance(exc, (click.exceptions.Abort, typer.Abort)):
            err_console.print("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        if isinstance(exc, (click.ClickException, typer.TyperException)) and hasattr(exc, "show"):
            exc.show()
            sys.exit(EXIT_USAGE)
        raise


if __name__ == "__main__":
    main()
