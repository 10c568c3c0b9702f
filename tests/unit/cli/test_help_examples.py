"""Help that teaches: every command and group shows an example of itself, and `upscway` alone
tells a newcomer what to run next."""

import inspect
import os
import re
import shlex
from unittest import mock

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from upscway.cli.main import app

# Its own paragraph (typer's rich help keeps a paragraph after a blank line on its own line):
# `Example:`, then the command line on the same line or the next.
EXAMPLE = re.compile(r"(?:\A|\n\n)Example:[ \t]*\n?(upscway\b.*)")


@pytest.fixture(autouse=True)
def _environment_kept():
    """Invoking the app runs its callback, which sets logging variables in os.environ when not
    --verbose: restored after each test, so no later test's child process inherits them."""
    with mock.patch.dict(os.environ):
        yield


def _commands(command, path: tuple[str, ...] = ()):
    """(path, command) for the command and every group and command under it."""
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def _example(command) -> str | None:
    found = EXAMPLE.search(inspect.cleandoc(command.help or ""))
    return found.group(1).strip() if found else None


def _name(path: tuple[str, ...]) -> str:
    return " ".join(("upscway", *path))


def test_every_command_and_group_has_an_example_in_its_help():
    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) > 20  # the whole tree was walked: the app, its groups, their commands

    missing = [_name(path) for path, command in commands if _example(command) is None]
    assert not missing, f"no `Example: upscway …` paragraph in the help of {len(missing)}: {', '.join(missing)}"


def _ran(example: str) -> tuple[str, ...]:
    """The path of the command an example line runs, through the app's real parser (options,
    choices, required arguments) but with every callback replaced by one that records it ran."""
    root = typer.main.get_command(app)  # fresh click objects: their callbacks are ours to replace
    ran: list[tuple[str, ...]] = [()]
    for path, command in _commands(root):
        if command.callback is not None:
            command.callback = lambda *_, path=path, **__: ran.append(path)
    root.main(args=shlex.split(example)[1:], prog_name="upscway", standalone_mode=False)
    return ran[-1]


def test_each_example_parses_and_runs_the_command_it_documents():
    """A command's example runs that command; a group's, one of the commands under it."""
    commands = dict(_commands(typer.main.get_command(app)))
    wrong = []
    for path, command in commands.items():
        if (example := _example(command)) is None:
            continue  # the test above names it
        try:
            leaf = _ran(example)
        except Exception as exc:  # a usage error: an option the command lacks, a bad choice, …
            wrong.append(f"{_name(path)}: {example!r} does not parse: {exc}")
            continue
        if leaf[: len(path)] != path or isinstance(commands[leaf], TyperGroup):
            wrong.append(f"{_name(path)}: {example!r} runs {_name(leaf)}")
    assert not wrong, "examples that do not run what they document:\n" + "\n".join(wrong)


def test_upscway_alone_welcomes_a_newcomer_and_help_still_shows_everything():
    alone = CliRunner().invoke(app, [])
    full = CliRunner().invoke(app, ["--help"])
    assert alone.exit_code == 0, alone.output
    assert "make demo" in alone.output and "make test" in alone.output, alone.output
    assert "upscway --help" in alone.output

    assert full.exit_code == 0, full.output
    for command in ("run", "gold", "models", "annotate", "sql", "query", "status", "serve"):
        assert re.search(rf"^\W*{command}\s", full.output, re.M), f"{command} missing from --help"
