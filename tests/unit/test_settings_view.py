"""`upscway settings show`: the effective settings and where each value came from."""

import json
import os
from unittest import mock

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from upscway.cli.main import app
from upscway.settings import load_settings
from upscway.settings_view import MASK, explain, is_secret, lines


@pytest.fixture(autouse=True)
def _environment_kept():
    """Invoking the app runs its callback, which sets logging variables in os.environ when not
    --verbose: restored after each test, so no later test's child process inherits them."""
    with mock.patch.dict(os.environ):
        yield


@pytest.fixture
def show():
    """Run `upscway ARGS` in this process; {key: (value, source)} from its `settings show --sources` lines."""

    def run(*args: str) -> tuple[dict[str, tuple[str, str]], str]:
        result = CliRunner().invoke(app, [*args, "settings", "show", "--sources"])
        assert result.exit_code == 0, result.output
        rows = {}
        for line in result.output.splitlines():
            pair, source = line.rsplit("  # ", 1)
            key, value = pair.rstrip().split(" = ", 1)
            rows[key] = (value, source)
        return rows, result.output

    return run


def test_show_sources_names_the_environment_the_profile_and_the_default(monkeypatch, show):
    # cascade.max_loss is set by the demo profile too (0.10): the environment wins, as in load_settings
    monkeypatch.setenv("UPSCWAY_CASCADE__MAX_LOSS", "0.03")
    monkeypatch.setenv("UPSCWAY_TEACHER_API_KEY", "sk-do-not-print")
    monkeypatch.setenv("UPSCWAY_TEACHER__API_KEY_SECRET", "block-do-not-print")
    rows, output = show("--profile", "demo")

    assert rows["cascade.max_loss"] == ("0.03", "environment UPSCWAY_CASCADE__MAX_LOSS")
    value, source = rows["cascade.drift_limit"]
    assert value == "0.15" and source.startswith("profile demo (") and source.endswith("demo.toml)")
    assert rows["ingest.fetcher"][1] == source
    assert rows["cascade.risk_level"] == ("0.05", "default")
    assert rows["profile"] == ('"demo"', "flag --profile")
    assert rows["teacher.api_key_env"] == ('"UPSCWAY_TEACHER_API_KEY"', "default")  # where the key is, not the key
    assert rows["teacher.api_key_secret"] == (MASK, "environment UPSCWAY_TEACHER__API_KEY_SECRET")
    assert "sk-do-not-print" not in output and "block-do-not-print" not in output
    assert rows["chunk.target_tokens"][0] == "200"  # a count of tokens is no secret


def test_a_flag_wins_over_its_variable_and_the_variable_is_named_without_it(monkeypatch, show, tmp_path):
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "elsewhere"))
    rows, _ = show("--data-dir", str(tmp_path / "here"))
    assert rows["data_dir"] == (json.dumps(str(tmp_path / "here")), "flag --data-dir")
    rows, _ = show()
    assert rows["data_dir"] == (json.dumps(str(tmp_path / "elsewhere")), "environment UPSCWAY_DATA_DIR")
    assert rows["profile"][1].startswith("profile demo (")  # the default profile's file says profile = "demo"


def test_show_without_sources_prints_key_equals_value(monkeypatch):
    monkeypatch.setenv("UPSCWAY_CASCADE__MAX_LOSS", "0.03")
    result = CliRunner().invoke(app, ["--profile", "demo", "settings", "show"])
    assert result.exit_code == 0, result.output
    assert "cascade.max_loss = 0.03" in result.output.splitlines()
    assert "#" not in result.output


def test_help_shows_an_example():
    result = CliRunner().invoke(app, ["settings", "show", "--help"])
    assert result.exit_code == 0
    assert "Example: upscway --profile demo settings show --sources" in " ".join(result.output.split())


def test_values_are_load_settings_own(monkeypatch):
    monkeypatch.setenv("UPSCWAY_INGEST__TIMEOUT_S", "3.5")
    dumped = load_settings("production").model_dump(mode="json")
    for setting in explain("production"):
        if setting.value == MASK:
            continue
        value = dumped
        for part in setting.key.split("."):
            value = value[part]
        assert json.loads(setting.value) == value, setting.key


def test_a_section_given_as_json_and_a_nested_variable(monkeypatch):
    monkeypatch.setenv("UPSCWAY_GATE", '{"min_precision": 0.5, "min_recall": 0.8}')
    monkeypatch.setenv("UPSCWAY_GATE__MIN_RECALL", "0.9")
    rows = {s.key: s for s in explain("demo")}
    assert (rows["gate.min_precision"].value, rows["gate.min_precision"].source) == ("0.5", "environment UPSCWAY_GATE")
    assert (rows["gate.min_recall"].value, rows["gate.min_recall"].source) == (
        "0.9",
        "environment UPSCWAY_GATE__MIN_RECALL",
    )
    assert rows["gate.max_paper_drop"].source.startswith("profile demo (")


def test_explicit_arguments_are_labelled_as_the_caller_says(tmp_path):
    rows = {s.key: s.source for s in explain("demo", tmp_path, given_by={"data_dir": "flag --data-dir"})}
    assert rows["data_dir"] == "flag --data-dir" and rows["profile"] == "argument profile"


def test_the_deprecated_task_file_variable_is_named_as_the_source_of_task_file(monkeypatch):
    monkeypatch.setenv("UPSCWAY_TEACHER__TASK_FILE", "deployments/tasks/upsc_gs.yaml")
    with pytest.warns(FutureWarning):
        rows = {s.key: s.source for s in explain("demo")}
    assert rows["task.file"] == "environment UPSCWAY_TEACHER__TASK_FILE"


def test_secrets_are_masked_when_set(monkeypatch):
    assert is_secret(("teacher", "api_key_secret"), "block") and is_secret(("x", "value"), SecretStr("s"))
    assert not any(is_secret(path, 1) for path in [("chunk", "target_tokens"), ("chunk", "tokenizer")])
    rows = {s.key: s.value for s in explain("demo")}
    assert rows["teacher.api_key_secret"] == "null"  # unset: nothing to hide
    monkeypatch.setenv("UPSCWAY_TEACHER__API_KEY_SECRET", "my-block")
    settings = explain("demo")
    assert {s.key: s.value for s in settings}["teacher.api_key_secret"] == MASK
    assert "my-block" not in "\n".join(lines(settings, sources=True))
