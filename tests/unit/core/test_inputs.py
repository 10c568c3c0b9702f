"""Files named by parameters: read only when regular and small enough, and in a deployment's run
only under the allowed roots; dates checked before any query sees them."""

import os
import re
import time

import pytest

from upscway.config_files import load_yaml_model
from upscway.errors import InputError
from upscway.flows.parameters import parameter_file
from upscway.inputs import parse_day, read_bounded
from upscway.resources import DEPLOYMENTS_DIR
from upscway.settings import load_settings
from upscway.tasks.scrape.feeds import SourcesFile

DEPLOYED = "PREFECT__RUNTIME__DEPLOYMENT__ID"  # Prefect's own way to mock `prefect.runtime.deployment.id`


@pytest.mark.parametrize(
    "kind, words",
    [
        ("device", "is not a regular file"),
        ("fifo", "is not a regular file"),
        ("folder", "is a folder, not a file"),
        ("missing", "does not exist"),
    ],
)
def test_only_a_regular_file_is_read_and_the_others_are_refused_at_once(tmp_path, kind, words):
    path = {"device": "/dev/zero", "folder": str(tmp_path), "missing": str(tmp_path / "nope")}.get(
        kind, str(tmp_path / "fifo")
    )
    if kind == "fifo":
        os.mkfifo(path)  # no writer: reading it would wait forever
    started = time.monotonic()
    with pytest.raises(InputError, match=re.escape(f"feeds file {path} {words}")):
        read_bounded(path, "feeds file")
    assert time.monotonic() - started < 1


def test_a_file_over_the_bound_is_refused_and_one_at_it_is_read(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_bytes(b"x" * 11)
    with pytest.raises(InputError, match=re.escape(f"URL list {path} is larger than 10 bytes")):
        read_bounded(path, "URL list", limit=10)
    assert read_bounded(path, "URL list", limit=11) == b"x" * 11


def test_yaml_nested_beyond_the_parser_is_an_input_error(tmp_path):
    deep = tmp_path / "feeds.yaml"
    deep.write_text("sources: " + "[" * 20_000 + "]" * 20_000)
    with pytest.raises(InputError, match=re.escape(f"feeds file {deep} is nested too deeply")):
        load_yaml_model(deep, SourcesFile, "feeds file")


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-13-45", "2026-02-30", "20260101", "2026-01-01; DROP TABLE tags", ""]
)
def test_a_day_that_is_not_yyyy_mm_dd_names_the_flag_and_the_value(value):
    with pytest.raises(InputError, match="^" + re.escape(f"--since {value!r} is not a date")):
        parse_day(value, "--since")
    assert str(parse_day("2026-01-31", "--since")) == "2026-01-31" and parse_day(None, "--since") is None


def test_a_command_reads_any_file_its_user_names_a_deployments_run_only_under_the_allowed_roots(tmp_path, monkeypatch):
    data, outside, extra = tmp_path / "data", tmp_path / "home" / "secrets.env", tmp_path / "inputs"
    for folder in (data, outside.parent, extra):
        folder.mkdir()
    outside.write_text("API_KEY=sk-live-0123456789\n")
    (data / "urls.txt").write_text("https://x.in/a\n")
    (data / "escape.txt").symlink_to(outside)
    settings = load_settings("demo", data)
    assert parameter_file(settings, "--urls", str(outside)) == outside  # in-process: its caller's own rights

    monkeypatch.setenv(DEPLOYED, "00000000-0000-0000-0000-000000000001")
    for refused in (outside, data / "escape.txt", data / ".." / "home" / "secrets.env", "/etc/hostname"):
        with pytest.raises(
            InputError,
            match="^"
            + re.escape(
                f"--urls {refused}: a deployment's run reads files only under {data.resolve()}, {DEPLOYMENTS_DIR}"
            ),
        ):
            parameter_file(settings, "--urls", str(refused))
    assert parameter_file(settings, "--urls", str(data / "urls.txt")) == data / "urls.txt"
    assert (
        parameter_file(settings, "--spec", "deployments/studies/kd-grid.yaml").resolve()
        == DEPLOYMENTS_DIR / "studies" / "kd-grid.yaml"
    )
    assert parameter_file(settings, "--urls", None) is None

    monkeypatch.setenv("UPSCWAY_INPUTS__ALLOWED_ROOTS", f'["{extra}"]')
    (extra / "urls.txt").write_text("https://x.in/b\n")
    assert parameter_file(load_settings("demo", data), "--urls", str(extra / "urls.txt")) == extra / "urls.txt"


@pytest.mark.parametrize("name", ["../profiles/demo", "./demo", "demo.toml"])
def test_a_profile_is_named_by_its_stem_never_by_a_path(name):
    with pytest.raises(InputError, match=re.escape(f"unknown profile {name!r}: expected one of")):
        load_settings(name)
