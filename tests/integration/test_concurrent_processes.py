"""Three processes on one store at once: a nightly run, a backfill of saved pages (three of
them the same articles the nightly ingests) and an analyst's `upscway sql` queries in a loop.
All finish, no query fails, and the rows stored equal those of the same work done one after
another (in this process). The three processes share a real Prefect server, with the global
concurrency limits (teacher requests, DuckDB writer) switched on across them."""

import random
import shutil
import subprocess
import sys
import threading
import time

from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.support.site import demo_pages
from upscway.flows.backfill import BackfillInput, backfill
from upscway.flows.context import open_store
from upscway.flows.nightly import nightly
from upscway.flows.parameters import DistillStep
from upscway.flows.tag import tag
from upscway.settings import load_settings
from upscway.tasks.limits import DUCKDB_WRITER, TEACHER_REQUESTS

CLI = [sys.executable, "-m", "upscway.cli"]
TABLES = ("articles", "chunks", "article_aliases", "annotations", "tags", "flow_runs")
WORDS = (
    "monsoon parliament tribunal fiscal deficit treaty biodiversity ethics judiciary panchayat "
    "inflation satellite groundwater federalism tariff heritage cyclone welfare"
).split()


def saved_pages(folder, n=16):
    """`n` generated article pages with their own canonical URLs, plus 3 of the demo's pages."""
    folder.mkdir()
    rng = random.Random(7)
    for i in range(n):
        paragraphs = "".join(
            "<p>"
            + " ".join(
                f"The {rng.choice(WORDS)} report on {rng.choice(WORDS)} and {rng.choice(WORDS)} was tabled in session {i}-{k}-{j}."
                for j in range(4)
            )
            + "</p>"
            for k in range(4)
        )
        (folder / f"story-{i}.html").write_text(
            f"<html><head><title>Backfilled story {i}</title>"
            f'<link rel="canonical" href="https://news.example.org/archive/story-{i}.html"></head>'
            f"<body><article><h1>Backfilled story {i}</h1>{paragraphs}</article></body></html>",
            encoding="utf-8",
        )
    for page in demo_pages()[:3]:
        shutil.copy(page, folder / f"{page.parent.name}-{page.name.replace('@', '_')}.html")
    return folder


def run(env, *args):
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=600)


def counts(env):
    query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES)
    done = run(env, "sql", query, "-f", "csv")
    assert done.returncode == 0, done.stderr
    return {line.split(",")[0]: int(line.split(",")[1]) for line in done.stdout.splitlines()[1:]}


def test_nightly_backfill_and_queries_at_once_store_what_they_store_one_after_another(
    prefect_server, tmp_path, monkeypatch
):
    pages = saved_pages(tmp_path / "saved")

    # One after another, in this process: the night (without training), the backfill, a catch-up
    # tag run for what the backfill stored after the night's tag step.
    monkeypatch.setenv("UPSCWAY_PROFILE", "demo")
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "sequential"))
    assert nightly(distill=DistillStep(enabled=False), return_state=True).is_completed()
    assert backfill(BackfillInput(html_dir=str(pages)), return_state=True).is_completed()
    assert tag(return_state=True).is_completed()
    expected = counts(prefect_server.env(UPSCWAY_PROFILE="demo", UPSCWAY_DATA_DIR=str(tmp_path / "sequential")))
    assert expected["articles"] > 16 and expected["tags"] == expected["chunks"]

    # The same work as three processes at once, sharing a Prefect server and its limits.
    night = ("run", "nightly", "--skip", "distill")
    back = ("run", "backfill", "--html-dir", str(pages))
    catch_up = ("run", "tag")
    concurrent = prefect_server.env(
        UPSCWAY_PROFILE="demo", UPSCWAY_DATA_DIR=str(tmp_path / "concurrent"), UPSCWAY_LIMITS__ENABLED="true"
    )
    open_store(load_settings(data_dir=tmp_path / "concurrent"))  # so the first query finds a store
    writers = [
        subprocess.Popen([*CLI, *step], env=concurrent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for step in (night, back)
    ]
    seen, failed_queries = [], []

    def query_until_done():
        while any(w.poll() is None for w in writers):
            done = run(concurrent, "sql", "SELECT count(*) FROM chunks", "-f", "csv")
            if done.returncode:
                failed_queries.append(done.stderr)
            else:
                seen.append(int(done.stdout.splitlines()[1]))
            # An analyst's pace, not a wait for anything: each query is a process of ~2 s of CPU,
            # and back to back they would slow the writers they are meant to meet.
            time.sleep(1)

    analyst = threading.Thread(target=query_until_done)
    analyst.start()
    outputs = [w.communicate(timeout=600) for w in writers]
    analyst.join()
    for writer, (_, err) in zip(writers, outputs):
        assert writer.returncode == 0, err[-3000:]
    assert not failed_queries, failed_queries[0]
    assert len(seen) >= 2 and seen == sorted(seen)  # every query answered; the store only grew
    done = run(concurrent, *catch_up)
    assert done.returncode == 0, done.stderr[-3000:]

    assert counts(concurrent) == expected
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        for name in (DUCKDB_WRITER, TEACHER_REQUESTS):
            limit = client.read_global_concurrency_limit_by_name(name)
            assert limit.active and limit.active_slots == 0  # in force, and every slot given back
