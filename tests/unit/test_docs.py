"""The docs site: its reference pages are generated from the code, so a new setting, command or
query shows without a hand edit, and the whole site builds with `mkdocs build --strict` (a broken
link or a page missing from the files fails it)."""

import os
import subprocess
import sys
from pathlib import Path

import typer
from pydantic import BaseModel, Field

from tools.reference_pages import cli_page, settings_page, sql_page
from upscway.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_a_new_setting_appears_in_the_settings_page():
    class Extra(BaseModel):
        knob: float = Field(0.25, description="A dummy knob, only in this test.")

    class WithExtra(Settings):
        extra_section: Extra = Extra()

    page = settings_page(WithExtra)
    assert (
        "| `extra_section.knob` | `0.25` | `UPSCWAY_EXTRA_SECTION__KNOB` | A dummy knob, only in this test. |" in page
    )
    assert "`cascade.max_loss`" in page and "extra_section" not in settings_page(Settings)


def test_a_new_command_appears_in_the_cli_page():
    app = typer.Typer()

    @app.command("first")
    def first() -> None:
        """The first.

        Example: upscway first
        """

    @app.command("dummy-report")
    def dummy(limit: int = typer.Option(7, help="How many rows.")) -> None:
        """A dummy command, only in this test."""

    page = cli_page(typer.main.get_command(app))
    assert "## `upscway dummy-report`" in page and "A dummy command, only in this test." in page
    assert "| `--limit` | How many rows. | `7` |" in page


def test_a_new_query_appears_in_the_sql_page(tmp_path):
    (tmp_path / "queries").mkdir()
    (tmp_path / "migrations").mkdir()
    (tmp_path / "queries" / "dummy.sql").write_text("-- Rows nobody asked for.\nSELECT 1;\n")
    (tmp_path / "migrations" / "001_x.sql").write_text("-- A table.\nCREATE TABLE things (id INTEGER);\n")
    page = sql_page(tmp_path)
    assert "| `dummy` | Rows nobody asked for. |" in page
    assert "| `001_x.sql` | A table. | `things` |" in page


def test_the_site_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    settings = (tmp_path / "site" / "reference" / "settings" / "index.html").read_text()
    assert "UPSCWAY_CASCADE__MAX_LOSS" in settings
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").exists()
