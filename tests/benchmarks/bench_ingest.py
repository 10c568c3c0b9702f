"""Ingest throughput: the whole flow against the same work done by a plain script, over the
same 2,000 pages in the same run.

    python tests/benchmarks/bench_ingest.py [--pages 2000] [--out result.json]

Generates article pages (the demo's saved pages, each made unique by a dispatch paragraph and
a reordering), serves them with feeds from a separate process on 127.0.0.1, runs the real
`ingest` flow into a fresh DuckDB file, then `plain_ingest.py` (read the feeds, fetch, extract,
chunk and insert in a process pool of as many workers, with the same libraries and no Prefect)
into another, and times the extractor alone (`extract_article`) over the same pages in a plain
loop. Prints one JSON object. The goal: the flow's end-to-end rate at least 0.8 of the plain
script's, i.e. orchestration (task runs, the API server, the frontier, staging, robots.txt)
costs at most a fifth. "cores used" is the CPU time of the flow process and its worker processes
divided by the wall time.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import emit  # first: offline env, the project on sys.path

from tests.support.site import demo_pages  # noqa: E402
from upscway.settings import IngestSettings, load_settings  # noqa: E402
from upscway.summaries import IngestSummary  # noqa: E402

PAGES_PER_FEED = 100


def generate_site(folder: Path, n_pages: int, port: int) -> list[Path]:
    rng = random.Random(7)
    templates = [p.read_text(encoding="utf-8") for p in demo_pages()]
    pages = []
    for i in range(n_pages):
        page = templates[i % len(templates)]
        head, rest = page.split('<div class="articlebody">', 1)
        body, tail = rest.split('</div>\n      <div class="tags">', 1)
        paragraphs = [line for line in body.splitlines() if line.strip().startswith("<p>")]
        rng.shuffle(paragraphs)
        dispatch = (
            f"      <p>Dispatch {i}: correspondents in district {i % 640} reported on the {rng.choice(['budget', 'monsoon', 'court', 'scheme', 'election'])} "
            f"review number {i}, which officials said would be tabled before the State legislature next month.</p>"
        )
        body = "\n".join([dispatch, *paragraphs])
        path = folder / "news" / f"story-{i}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'{head}<div class="articlebody">\n{body}\n</div>\n      <div class="tags">{tail}', encoding="utf-8"
        )
        pages.append(path)
    for f in range(0, n_pages, PAGES_PER_FEED):
        items = "".join(
            f"<item><title>Story {i}</title><link>http://127.0.0.1:{port}/news/story-{i}.html?utm_source=rss</link></item>"
            for i in range(f, min(f + PAGES_PER_FEED, n_pages))
        )
        (folder / "feeds").mkdir(exist_ok=True)
        (folder / "feeds" / f"feed-{f // PAGES_PER_FEED}.xml").write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>{items}</channel></rss>'
        )
    warm = folder / "news" / "warm-up.html"
    warm.write_text(templates[0], encoding="utf-8")
    (folder / "feeds" / "warm-up.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>warm</title>'
        f"<item><title>w</title><link>http://127.0.0.1:{port}/news/warm-up.html</link></item></channel></rss>"
    )
    return pages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (worker processes,
    which the flow shuts down before it returns)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_flow(feeds: Path, data_dir: Path) -> tuple[IngestSummary, float, float]:
    """Warm up on a one-page source (imports, tokenizer, first tasks), then time the real run."""
    from prefect.testing.utilities import prefect_test_harness

    from upscway.flows.ingest import ingest

    os.environ.update(
        UPSCWAY_PROFILE="demo",
        UPSCWAY_DATA_DIR=str(data_dir),
        UPSCWAY_INGEST__FETCHER="http",
        # the defaults' batch size (the demo profile's is small, for its few pages)
        UPSCWAY_INGEST__BATCH_SIZE=os.environ.get(
            "UPSCWAY_INGEST__BATCH_SIZE", str(IngestSettings.model_fields["batch_size"].default)
        ),
    )
    with prefect_test_harness(server_startup_timeout=120):
        ingest(feeds=str(feeds), source="warm-up", return_state=True)
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        summary = ingest(feeds=str(feeds), source="bench", return_state=True).result()
        cpu1, wall1 = cpu_seconds(), time.perf_counter()
    return summary, wall1 - wall0, cpu1 - cpu0


def raw_extraction(pages: list[Path]) -> tuple[int, float]:
    """The chosen extractor alone (ingest's own call, metadata included) in a plain loop."""
    from upscway.tasks.scrape.extract import extract_article

    contents = [p.read_bytes() for p in pages]
    start = time.perf_counter()
    extracted = sum(
        1 for c in contents if extract_article(c, "https://example.in/news/story.html", "text/html; charset=utf-8").text
    )
    return extracted, time.perf_counter() - start


def run_plain(feed_urls: list[str], database: Path) -> tuple[int, float]:
    """The plain script on the same pages with the flow's settings: (articles, seconds)."""
    from plain_ingest import run

    settings = load_settings()
    ingest = settings.ingest
    start = time.perf_counter()
    stored = run(
        feed_urls, database, max(1, ingest.processes), ingest.batch_size, ingest.fetch_concurrency, settings.chunk
    )
    return stored, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmp = Path(tmp)
        port = free_port()
        pages = generate_site(tmp / "site", args.pages, port)
        feeds = tmp / "feeds.yaml"
        bench_feeds = [
            f"http://127.0.0.1:{port}/feeds/feed-{i}.xml"
            for i in range((args.pages + PAGES_PER_FEED - 1) // PAGES_PER_FEED)
        ]
        feed_urls = ", ".join(f'"{url}"' for url in bench_feeds)
        feeds.write_text(
            f"sources:\n  - name: bench\n    feeds: [{feed_urls}]\n    rate_limit_per_s: 0\n"
            f'  - name: warm-up\n    feeds: ["http://127.0.0.1:{port}/feeds/warm-up.xml"]\n    rate_limit_per_s: 0\n'
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp / "site")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.0)
            summary, wall, cpu = run_flow(feeds, tmp / "data")
            plain_articles, plain_s = run_plain(bench_feeds, tmp / "plain.duckdb")
        finally:
            server.terminate()
            server.wait()
        extracted, raw_s = raw_extraction(pages)

    settings = load_settings().ingest  # what the run used: the profile, the environment and the defaults
    e2e_rate = summary.articles / wall
    raw_rate = extracted / raw_s
    cores_used = cpu / wall
    plain_rate = plain_articles / plain_s
    result = {
        "pages": args.pages,
        "workers": settings.workers,
        "processes": settings.processes,
        "articles_stored": summary.articles,
        "chunks_stored": summary.chunks,
        "failures": summary.failures,
        "end_to_end_articles_per_s": round(e2e_rate, 1),
        "end_to_end_wall_s": round(wall, 2),
        "raw_extractor_articles_per_s": round(raw_rate, 1),
        "cores_used": round(cores_used, 2),
        "machine_cores": os.cpu_count(),
        "ratio_to_raw_x_cores_used": round(e2e_rate / (raw_rate * cores_used), 2),
        "ratio_to_raw_one_core": round(e2e_rate / raw_rate, 2),
        "plain_script_articles": plain_articles,
        "plain_script_articles_per_s": round(plain_rate, 1),
        "ratio_to_plain_script": round(e2e_rate / plain_rate, 2),
        "goal": "end_to_end >= 0.8 x the plain script's rate",
        "goal_met": e2e_rate >= 0.8 * plain_rate,
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
