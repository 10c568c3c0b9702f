"""The `upscway` command as a user runs it: a separate process, real exit statuses."""

import csv
import io
import json
import subprocess
import sys

import pytest
from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import child_env


@pytest.fixture
def upscway(tmp_path):
    env = child_env()
    env.update(PREFECT_API_URL=PREFECT_API_URL.value(), UPSCWAY_DATA_DIR=str(tmp_path / "data"))

    def run(*args, extra_env=None, timeout=300):
        return subprocess.run(
            [sys.executable, "-m", "upscway.cli", *args],
            capture_output=True,
            text=True,
            env={**env, **(extra_env or {})},
            timeout=timeout,
        )

    return run


def test_usage_errors_exit_2_with_a_message_naming_the_input(upscway, tmp_path):
    bad_profile = upscway("--profile", "staging", "status")
    assert bad_profile.returncode == 2 and "unknown profile 'staging'" in bad_profile.stderr

    missing = upscway("run", "ingest", "--feeds", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2 and "missing.yaml does not exist" in missing.stderr

    no_input = upscway("run", "backfill")
    assert no_input.returncode == 2 and "exactly one of" in no_input.stderr

    bad_spec = tmp_path / "bad-study.yaml"
    bad_spec.write_text("name: bad\ngrid: {temperature: [1, 0]}\n")
    study = upscway("run", "study", "--spec", str(bad_spec), "--quick")
    assert (
        study.returncode == 2
        and f"study spec {bad_spec} is invalid: grid.temperature.1: Input should be greater than 0" in study.stderr
    )
    assert "Traceback" not in study.stderr and "Prefect" not in study.stderr  # refused before any server starts

    for args, words in (
        (("run", "ingest", "--limit", "0"), "greater than or equal to 1"),
        (("run", "annotate", "--teacher", "foo"), "'foo' is not one of"),
        (("run", "nightly", "--skip", "train"), "'train' is not one of"),
    ):
        refused = upscway(*args)
        assert refused.returncode == 2 and words in refused.stderr and "Traceback" not in refused.stderr, (
            refused.stderr[-1500:]
        )


@pytest.mark.parametrize(
    "args, words",
    [
        (("run", "ingest", "--feeds", "/dev/zero"), "feeds file /dev/zero is not a regular file"),
        (("run", "study", "--spec", "/dev/zero"), "study spec /dev/zero is not a regular file"),
        (("run", "backfill", "--urls", "/dev/zero"), "URL list /dev/zero is not a regular file"),
        (("gold", "import", "/dev/zero"), "gold file /dev/zero is not a regular file"),
        (("run", "ingest", "--feeds", "{tmp}"), "feeds file {tmp} is a folder, not a file"),
        (("run", "study", "--spec", "{tmp}"), "study spec {tmp} is a folder, not a file"),
        (("run", "ingest", "--feeds", "{tmp}/deep.yaml"), "feeds file {tmp}/deep.yaml is nested too deeply"),
        (("run", "annotate", "--since", "yesterday"), "--since 'yesterday' is not a date (YYYY-MM-DD)"),
        (("run", "tag", "--since", "2026-13-45"), "--since '2026-13-45' is not a date (YYYY-MM-DD)"),
    ],
    ids=[
        "feeds-device",
        "spec-device",
        "urls-device",
        "gold-device",
        "feeds-folder",
        "spec-folder",
        "feeds-deep",
        "since-word",
        "since-no-day",
    ],
)
def test_a_device_a_folder_absurd_nesting_or_a_day_that_is_no_date_exits_2_at_once_in_one_line(
    upscway, tmp_path, args, words
):
    """Refused by kind before a byte is read (`/dev/zero` once filled the memory), or by
    shape before any query sees it: exit 2 and one line naming the input, no traceback."""
    (tmp_path / "deep.yaml").write_text("sources: " + "[" * 20_000 + "]" * 20_000)
    refused = upscway(*(a.format(tmp=tmp_path) for a in args), timeout=90)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert refused.stderr.strip().splitlines()[-1].startswith(f"error: {words.format(tmp=tmp_path)}")
    assert "Traceback" not in refused.stderr


def test_run_with_failed_items_exits_1_then_sql_and_status_read_the_store(upscway, news_site, tmp_path):
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(news_site.feeds_yaml)
    live = {
        "UPSCWAY_INGEST__FETCHER": "http",
        "UPSCWAY_INGEST__TIMEOUT_S": "1",
        "UPSCWAY_INGEST__MAX_BYTES": "200000",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }  # Prefect's default, which the test session lowers

    run = upscway("run", "ingest", "--feeds", str(feeds), extra_env=live)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "CompletedWithFailures" in run.stdout and "item(s) failed" in run.stderr
    # The terminal says what happened in a line, not in logs or library noise.
    assert "! ingest    completed with failures in " in run.stderr and f"{len(news_site.good)} articles" in run.stderr
    assert "| INFO" not in run.stderr and "Traceback" not in run.stderr and "nanobind" not in run.stderr

    as_csv = upscway("sql", "SELECT count(*) AS n FROM articles", "--format", "csv")
    assert as_csv.returncode == 0 and "\r" not in as_csv.stdout  # a value piped on carries no CR
    assert list(csv.DictReader(io.StringIO(as_csv.stdout))) == [{"n": str(len(news_site.good))}]

    as_json = upscway("sql", "SELECT stage, count(*) AS n FROM failures GROUP BY stage ORDER BY stage", "-f", "json")
    assert {r["stage"]: r["n"] for r in json.loads(as_json.stdout)}["feed"] == 3

    refused = upscway("sql", "DELETE FROM articles")
    assert refused.returncode == 2 and "read-only" in refused.stderr

    listing = upscway("query", "-f", "csv")
    assert (
        listing.returncode == 0 and "label_drift" in listing.stdout and "days=30 how many days back" in listing.stdout
    )
    tagged = upscway("query", "tagged", "--param", "limit=5", "-f", "csv")
    assert tagged.returncode == 0 and tagged.stdout.startswith(
        "chunk_id,label,confidence,decided_by,title,url,date,source\n"
    )
    bad_param = upscway("query", "models", "--param", "oops")
    assert bad_param.returncode == 2 and "name=value" in bad_param.stderr

    status = upscway("status")
    assert status.returncode == 0 and "articles" in status.stdout and "test-national" in status.stdout

    # --verbose: the runs' logs instead of the display (a second run: the same feeds fail again).
    again = upscway("--verbose", "run", "ingest", "--feeds", str(feeds), extra_env=live)
    assert again.returncode == 1 and "| INFO    | Flow run" in again.stderr and "ingest finished in " in again.stderr


def test_a_damaged_store_a_file_for_a_data_dir_and_hostile_sql_exit_2_in_one_line(upscway, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "upscway.duckdb").write_bytes(b"not a database " * 1000)
    damaged = upscway("run", "ingest", "--limit", "1")
    assert damaged.returncode == 2, damaged.stderr
    assert "cannot open the store" in damaged.stderr and str(data / "upscway.duckdb") in damaged.stderr
    assert "Traceback" not in damaged.stderr
    assert "Traceback" in upscway("--verbose", "status").stderr  # asked for

    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    misplaced = upscway("--data-dir", str(a_file), "status")
    assert (
        misplaced.returncode == 2 and f"{a_file} is a file" in misplaced.stderr and "Traceback" not in misplaced.stderr
    )

    (data / "upscway.duckdb").unlink()
    assert upscway("gold", "import", str(_bom_csv(tmp_path))).returncode == 0  # creates the store
    before = (data / "upscway.duckdb").read_bytes()
    bypass = upscway("sql", f"EXPLAIN ANALYZE COPY (SELECT 'x' AS x) TO '{data / 'upscway.duckdb'}'")
    assert bypass.returncode == 2 and "refused" in bypass.stderr
    outside = upscway("sql", "SELECT * FROM read_text('/etc/passwd')")
    assert outside.returncode == 2 and "disabled by configuration" in outside.stderr
    assert (data / "upscway.duckdb").read_bytes() == before
    counted = upscway("sql", "SELECT count(*) AS n FROM gold_labels", "-f", "csv")
    assert counted.returncode == 0 and counted.stdout.split() == ["n", "2"]


def _bom_csv(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "chunk_id,text,gold_label,annotator\r\n,A paragraph on the monsoon and farm output.,gs3,asha\r\n"
        ",A paragraph on constitutional morality.,Gs4,asha\r\n".encode("utf-8-sig")
    )
    return path
