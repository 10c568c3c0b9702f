"""Faults injected into real runs: a page that fails once, a run SIGKILLed mid-ingest, and the
run after it. Each test asserts that nothing discovered is lost (every URL ends stored, an
alias, or failed with a reason), nothing is stored twice, and the exit codes are right.

No fixed sleeps: the killed run is held at a point the test chooses by a gate in the news
server (pages past the first batches answer only once the test opens it), and the test waits
for what it needs to see, with generous bounds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil
import pytest
from prefect.settings import PREFECT_API_URL

from tests.support.newsserver import NewsServer, Route
from tests.support.site import rss
from upscway.flows.ingest import ingest
from upscway.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
ITEMS = 60


def _page(i: int) -> bytes:
    words = " ".join(f"word{i}x{j}" for j in range(60))
    return (
        f"<html><head><title>Story {i}</title></head><body><article><h1>Story {i} on the economy</h1>"
        f"<p>Report number {i}: the ministry said on Monday that {words}.</p></article></body></html>"
    ).encode()


def _feeds(tmp_path: Path, server: NewsServer, paths: list[str]) -> Path:
    server.routes["/feed.rss"] = Route(
        rss([(p, server.url(p)) for p in paths]), content_type="application/rss+xml", etag='"v1"'
    )
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f'sources:\n  - name: faults\n    feeds: ["{server.url("/feed.rss")}"]\n    rate_limit_per_s: 0\n')
    return feeds


def _rows(store: Store, query: str, *params):
    with store.reader() as conn:
        return conn.execute(query, list(params)).fetchall()


@pytest.fixture
def server():
    with NewsServer() as s:
        yield s


def test_a_transient_failure_is_retried_on_the_next_run_and_given_up_after_max_attempts(server, live_env, monkeypatch):
    monkeypatch.setenv("UPSCWAY_INGEST__RETRY_BASE_S", "0")  # due again at once
    monkeypatch.setenv("UPSCWAY_INGEST__MAX_ATTEMPTS", "2")
    server.routes["/once"] = Route(b"busy", status=503, then=Route(_page(1)))
    server.routes["/always"] = Route(b"busy", status=503)
    server.routes["/gone"] = Route(b"gone", status=404)
    feeds = _feeds(live_env, server, ["/once", "/always", "/gone"])
    store = Store(live_env / "data" / "upscway.duckdb")

    first = ingest(feeds=str(feeds), return_state=True).result()
    assert first.failures == 3
    second = ingest(feeds=str(feeds), return_state=True).result()  # the feed answers 304
    assert second.articles == 1 and second.fetched == 2
    third = ingest(feeds=str(feeds), return_state=True).result()
    assert third.fetched == 0

    states = dict(
        (url.rsplit("/", 1)[1], (state, attempts, reason))
        for url, state, attempts, reason in _rows(store, "SELECT url, state, attempts, reason FROM frontier")
    )
    assert states == {
        "once": ("stored", 2, None),
        "always": ("given_up", 2, "HTTP 503"),
        "gone": ("failed", 1, "HTTP 404"),
    }
    assert [len(server.hits(p)) for p in ("/once", "/always", "/gone")] == [2, 2, 1]


def _stored_articles(store: Store) -> int:
    """Articles stored so far; 0 while the run has not yet created the store or its tables."""
    if not store.path.exists():
        return 0
    try:
        return _rows(store, "SELECT count(*) FROM articles")[0][0]
    except duckdb.CatalogException:
        return 0


def _wait_for(check, what: str, process: subprocess.Popen, log: Path, timeout_s: float = 240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended before {what}: {log.read_text()[-3000:]}"
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not seen within {timeout_s} s: {what}; {log.read_text()[-3000:]}")


def test_ingest_killed_after_its_first_load_loses_nothing(server, tmp_path):
    """60 items in a feed, loaded 10 at a time; the run is SIGKILLed once 10 are stored and a
    third batch is staged, while the fourth waits on the gate. The rerun gets 304 from the
    feed, yet stores every item exactly once: the staged batch is loaded, the rest fetched."""
    paths = [f"/story-{i:03d}" for i in range(ITEMS)]
    gate = threading.Event()
    for i, path in enumerate(paths):
        server.routes[path] = Route(_page(i), gate=gate if i >= 15 else None)
    feeds = _feeds(tmp_path, server, paths)
    data = tmp_path / "data"
    env = {
        **os.environ,
        "UPSCWAY_PROFILE": "demo",
        "UPSCWAY_DATA_DIR": str(data),
        "UPSCWAY_INGEST__FETCHER": "http",
        "UPSCWAY_INGEST__BATCH_SIZE": "5",
        "UPSCWAY_INGEST__BATCHES_PER_LOAD": "2",
        "UPSCWAY_INGEST__WORKERS": "1",
        "UPSCWAY_INGEST__PROCESSES": "2",  # the worker processes must die with the run too
        "UPSCWAY_INGEST__TIMEOUT_S": "600",
    }
    env.pop("PREFECT_API_URL", None)  # the CLI starts its own temporary server, as for a user
    command = [sys.executable, "-m", "upscway.cli", "run", "ingest", "--feeds", str(feeds)]
    log = tmp_path / "killed.log"
    store = Store(data / "upscway.duckdb", lock_timeout_s=600)
    with open(log, "wb") as out:
        victim = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _stored_articles(store) >= 10, "the first load", victim, log)
        _wait_for(
            lambda: any(b.is_dir() and not b.name.endswith(".partial") for b in (data / "staging").glob("*/batch-*")),
            "a staged batch",
            victim,
            log,
        )
        children = psutil.Process(victim.pid).children(recursive=True)
        assert children, "the run started no temporary Prefect server"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
        _, alive = psutil.wait_procs(children, timeout=60)
        assert alive == [], f"left running after the kill: {[p.cmdline() for p in alive]}"
    finally:
        if victim.poll() is None:
            victim.kill()
        gate.set()
    assert _rows(store, "SELECT count(*) FROM articles") == [(10,)]
    assert _rows(store, "SELECT state, count(*) FROM frontier GROUP BY ALL ORDER BY ALL") == [
        ("pending", 50),
        ("stored", 10),
    ]

    # The rerun talks to the session's API (its own temporary server was the killed run's concern).
    rerun = subprocess.run(
        command, env={**env, "PREFECT_API_URL": PREFECT_API_URL.value()}, capture_output=True, text=True, timeout=600
    )

    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _rows(
        store, "SELECT count(*), count(DISTINCT canonical_url), count(DISTINCT content_hash) FROM articles"
    ) == [(ITEMS,) * 3]
    assert _rows(store, "SELECT state, count(*) FROM frontier GROUP BY ALL") == [("stored", ITEMS)]
    assert _rows(
        store, "SELECT count(*) FROM chunks c LEFT JOIN articles a ON a.id = c.article_id WHERE a.id IS NULL"
    ) == [(0,)]
    assert server.hits("/feed.rss")[-1].status == 304
    # The staged batch (items 10-14) was loaded, not fetched again; only the batch the kill
    # interrupted at the gate (15-19) can have been asked for twice.
    assert all(len(server.hits(p)) == 1 for p in paths[:15] + paths[20:])
    assert not any((data / "staging").iterdir())
    statuses = _rows(store, "SELECT status, summary->>'noticed_at' IS NOT NULL FROM flow_runs ORDER BY started_at")
    assert statuses == [("crashed", True), ("completed", False)]


def test_two_ingests_at_once_fetch_each_page_once(server, tmp_path, prefect_server):
    """Two `upscway run ingest` processes started together on one feed: the URLs one claims the
    other leaves alone, so every page is fetched exactly once and stored once."""
    paths = [f"/story-{i:03d}" for i in range(24)]
    for i, path in enumerate(paths):
        server.routes[path] = Route(_page(i), delay_s=0.25)  # the first run is still fetching when the second starts
    feeds = _feeds(tmp_path, server, paths)
    data = tmp_path / "data"
    env = prefect_server.env(
        UPSCWAY_PROFILE="demo",
        UPSCWAY_DATA_DIR=str(data),
        UPSCWAY_INGEST__FETCHER="http",
        UPSCWAY_INGEST__BATCH_SIZE="4",
        UPSCWAY_INGEST__WORKERS="1",
        UPSCWAY_INGEST__FETCH_CONCURRENCY="1",
        UPSCWAY_INGEST__PROCESSES="0",
    )
    command = [sys.executable, "-m", "upscway.cli", "run", "ingest", "--feeds", str(feeds)]
    runs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outcomes = [r.communicate(timeout=600) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [err[-2000:] for _, err in outcomes]
    assert {p: len(server.hits(p)) for p in paths} == {p: 1 for p in paths}
    store = Store(data / "upscway.duckdb")
    assert _rows(store, "SELECT count(*), count(DISTINCT canonical_url) FROM articles") == [(24, 24)]
    assert _rows(store, "SELECT state, count(*) FROM frontier GROUP BY ALL") == [("stored", 24)]
