"""The docs site's reference pages, generated from the code they describe: the CLI from the typer
app, the settings from the pydantic models, the named queries and tables from `sql/`.

`docs/hooks/reference.py` adds them to every `mkdocs build`, so a new command, setting or query
appears in the site without a hand edit. Each function takes what it documents as an argument
(a click command, a settings model, a folder), which is how the tests feed it a changed copy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ENV_PREFIX, ENV_NESTING = "UPSCWAY_", "__"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _command_section(command: Any, path: str, depth: int) -> list[str]:
    """A click command (typer vendors its own click, so it is read by its attributes)."""
    lines = [f"{'#' * min(depth, 6)} `{path}`", ""]
    if command.help:
        lines += [command.help.strip(), ""]
    params = [p for p in command.params if p.name != "help"]
    if params:
        lines += ["| argument / option | help | default |", "|---|---|---|"]
        for param in params:
            names = ", ".join(f"`{n}`" for n in (param.opts + param.secondary_opts)) or f"`{param.name}`"
            if param.param_type_name == "argument":
                names = f"`{param.name.upper()}`"
            shown = "" if param.default in (None, (), []) or callable(param.default) else f"`{param.default}`"
            lines.append(f"| {names} | {_cell(getattr(param, 'help', '') or '')} | {_cell(shown)} |")
        lines.append("")
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            lines += _command_section(command.commands[name], f"{path} {name}", depth + 1)
    return lines


def cli_page(command: Any, name: str = "upscway") -> str:
    """Every command of the CLI (`typer.main.get_command(app)`), its help and its options."""
    header = ["# CLI reference", "", "Generated from the typer app (`upscway/cli/main.py`) at build time.", ""]
    return "\n".join(header + _command_section(command, name, 2)) + "\n"


def _default(field) -> str:
    if field.default is PydanticUndefined:
        return "required" if field.default_factory is None else "(computed)"
    value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    return f"`{value!r}`" if not isinstance(value, Path) else f"`{value}`"


def _settings_rows(model: type[BaseModel], dotted: str, env: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key, variable = f"{dotted}{name}", f"{env}{name.upper()}"
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            rows.append(
                f"| `{key}` | section | `{variable}` (JSON) | {_cell(field.description or kind.__doc__ or '')} |"
            )
            rows += _settings_rows(kind, f"{key}.", f"{variable}{ENV_NESTING}")
            continue
        rows.append(f"| `{key}` | {_default(field)} | `{variable}` | {_cell(field.description or '')} |")
    return rows


def settings_page(model: type[BaseModel]) -> str:
    """Every setting of `model` (the top-level `Settings`): its dotted key, default, environment
    variable and description, sections first-level by first-level."""
    lines = [
        "# Settings reference",
        "",
        "Generated from the pydantic models (`upscway/settings.py`) at build time. A value comes from, "
        "lowest first: the default, the profile file (`deployments/profiles/<name>.toml`), an "
        "`UPSCWAY_*` environment variable, a command-line flag. `upscway settings show --sources` prints "
        "the values in force and where each came from.",
        "",
        "| key | default | environment variable | description |",
        "|---|---|---|---|",
        *_settings_rows(model, "", ENV_PREFIX),
    ]
    return "\n".join(lines) + "\n"


def _leading_comment(text: str) -> str:
    """The `--` comment lines a SQL file opens with, as one paragraph."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return " ".join(lines)


def _tables(text: str) -> list[str]:
    return re.findall(r"CREATE TABLE(?: IF NOT EXISTS)?\s+(\w+)", text, flags=re.IGNORECASE)


def sql_page(folder: Path) -> str:
    """The named report queries (`sql/queries/`, run with `upscway query NAME`) and the tables the
    migrations create (`sql/migrations/`), each with the comment its file opens with."""
    lines = [
        "# Queries and tables",
        "",
        "Generated from `sql/` at build time. `upscway query` lists the named queries, "
        '`upscway query NAME [-p name=value]` runs one, `upscway sql "SELECT …"` runs your own (read-only).',
        "",
        "## Named queries",
        "",
        "| query | what it returns |",
        "|---|---|",
    ]
    for path in sorted((folder / "queries").glob("*.sql")):
        lines.append(f"| `{path.stem}` | {_cell(_leading_comment(path.read_text(encoding='utf-8')))} |")
    lines += ["", "## Tables (by migration)", "", "| migration | what it adds | tables |", "|---|---|---|"]
    for path in sorted((folder / "migrations").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        tables = ", ".join(f"`{t}`" for t in _tables(text)) or "(changes only)"
        lines.append(f"| `{path.name}` | {_cell(_leading_comment(text))} | {tables} |")
    return "\n".join(lines) + "\n"


def pages(root: Path) -> dict[str, str]:
    """The reference pages of the project at `root`, by their path in the site."""
    import typer

    from upscway.cli.main import app
    from upscway.settings import Settings

    return {
        "reference/cli.md": cli_page(typer.main.get_command(app)),
        "reference/settings.md": settings_page(Settings),
        "reference/sql.md": sql_page(root / "sql"),
    }
