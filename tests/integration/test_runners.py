"""The Dask task runner (prefect-dask) on a local cluster of 2 worker processes stores the same
rows as the default thread pool: ingest's scrape and load batches and annotate's batches run on
the workers, which open the DuckDB file themselves. The flows choose the runner from the
settings themselves (their run context does), so a caller passes nothing."""

from upscway.flows import runners
from upscway.flows.annotate import annotate
from upscway.flows.context import open_store
from upscway.flows.ingest import ingest
from upscway.settings import load_settings

QUERIES = {
    "articles": "SELECT canonical_url, content_hash FROM articles ORDER BY 1",
    "chunks": "SELECT text_hash, ordinal, token_count FROM chunks ORDER BY 1, 2",
    "annotations": "SELECT text_hash, annotator, label FROM annotations ORDER BY 1",
}


def stored(settings):
    with open_store(settings).reader() as conn:
        return {name: conn.execute(query).fetchall() for name, query in QUERIES.items()}


def ingest_and_annotate(settings):
    """The first 40 pages of the demo's news (oldest first, the same in both runs): enough for
    both runners to fan out over several batches."""
    return ingest(limit=40, return_state=True).result(), annotate(return_state=True).result()


def test_a_two_worker_dask_cluster_stores_the_same_rows_as_threads(tmp_path, monkeypatch):
    clusters = []
    real = runners.dask_runner
    monkeypatch.setattr(runners, "dask_runner", lambda settings: clusters.append(settings) or real(settings))
    monkeypatch.setenv("UPSCWAY_PROFILE", "demo")
    monkeypatch.setenv("UPSCWAY_TEACHER__BATCH_SIZE", "16")
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "threads"))
    threads = load_settings()
    by_threads = ingest_and_annotate(threads)
    assert clusters == []

    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "dask"))
    monkeypatch.setenv("UPSCWAY_RUNNER__KIND", "dask")
    monkeypatch.setenv("UPSCWAY_RUNNER__DASK_WORKERS", "2")
    monkeypatch.setenv(
        "UPSCWAY_INGEST__PROCESSES", "2"
    )  # ignored in Dask's daemonic workers, which may not start a pool
    dask = load_settings()
    assert dask.runner.kind == "dask"
    by_dask = ingest_and_annotate(dask)
    assert len(clusters) == 2  # one cluster per run of a flow that fans out

    assert by_dask[0].articles == by_threads[0].articles > 0
    assert by_dask[1].annotated == by_threads[1].annotated > 0
    expected, got = stored(threads), stored(dask)
    assert got == expected and len(got["chunks"]) > 20
