"""Nothing is dropped after extraction: on real pages, the chunks ingest stores cover the
extracted article text exactly, tables and lists included.

The pages are four of the public article-extraction benchmark's (MIT, see
tests/support/extraction/LICENSE), chosen for their tables and lists. They go through the
ingest path itself (scrape_batch: read, extract, chunk, stage; then the loader) into a real
DuckDB file.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from upscway.settings import ChunkSettings, IngestSettings
from upscway.storage.staging import StagedBatch
from upscway.tasks.resources import RunResources
from upscway.tasks.scrape.pages import PageRequest, scrape_batch
from upscway.tasks.scrape.steps import load_staged_batches

PAGES = Path(__file__).parents[1] / "support" / "extraction"


def stored_pages(store, tmp_path: Path) -> dict[str, tuple[str, list[tuple[int, int, str]]]]:
    """canonical URL -> (stored article text, its stored chunks as (start, end, text))."""
    requests = []
    for page, meta in json.loads((PAGES / "pages.json").read_text()).items():
        local = tmp_path / f"{page}.html"
        local.write_bytes(gzip.decompress((PAGES / f"{page}.html.gz").read_bytes()))
        requests.append(PageRequest(meta["url"], "benchmark", local_path=str(local)))
    ingest, chunking = IngestSettings(), ChunkSettings()
    staged = StagedBatch(tmp_path / "staged")
    resources = RunResources()
    try:
        outcome = scrape_batch(requests, ingest, chunking, staged, resources)
    finally:
        resources.close()
    assert (outcome.articles, outcome.failures) == (len(requests), 0)
    load_staged_batches(store, "coverage", [staged], ingest)
    with store.reader() as conn:
        articles = {
            i: (url, text) for i, url, text in conn.execute("SELECT id, canonical_url, text FROM articles").fetchall()
        }
        chunks = conn.execute(
            "SELECT article_id, char_start, char_end, text FROM chunks ORDER BY article_id, ordinal"
        ).fetchall()
    result = {url: (text, []) for url, text in articles.values()}
    for article_id, start, end, text in chunks:
        result[articles[article_id][0]][1].append((start, end, text))
    return result


def test_stored_chunks_cover_the_extracted_text_of_real_pages_exactly(store, tmp_path):
    pages = stored_pages(store, tmp_path)
    assert len(pages) == 4
    lines_seen = {"table rows": 0, "list items": 0}
    for url, (text, chunks) in pages.items():
        assert chunks, url
        for start, end, chunk_text in chunks:
            assert text[start:end] == chunk_text, f"{url}: a chunk is not the slice its offsets name"
        covered = bytearray(len(text))
        for start, end, _ in chunks:
            covered[start:end] = b"\x01" * (end - start)
        uncovered = "".join(ch for ch, hit in zip(text, covered) if not hit)
        assert not uncovered.strip(), f"{url}: text in no chunk: {uncovered.strip()[:200]!r}"
        for line in map(str.strip, text.splitlines()):
            lines_seen["table rows"] += " | " in line
            lines_seen["list items"] += bool(re.match(r"- \S", line))
    # The pages were chosen for their tables and lists: the extractor must keep them for
    # this test to hold what it says.
    assert lines_seen["table rows"] >= 40 and lines_seen["list items"] >= 40, lines_seen
