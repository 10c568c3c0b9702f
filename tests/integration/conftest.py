import os
import shutil
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from tests.support.newsserver import NewsServer
from tests.support.prefect_server import PrefectServer
from tests.support.site import build_site
from upscway.flows.annotate import annotate
from upscway.flows.context import open_store
from upscway.flows.ingest import ingest
from upscway.resources import DEPLOYMENTS_DIR
from upscway.settings import load_settings
from upscway.storage import gold as gold_repo
from upscway.storage.store import Store
from upscway.tasks.gold.sheets import read_csv


@pytest.fixture(scope="session", autouse=True)
def prefect_api():
    """One ephemeral Prefect API for the whole session (it takes seconds to start)."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real Prefect server process on 127.0.0.1, for tests whose processes must share an API."""
    with PrefectServer(tmp_path_factory.mktemp("prefect-server")) as server:
        yield server


@pytest.fixture
def news_site():
    with NewsServer() as server:
        yield build_site(server)


@pytest.fixture
def live_env(monkeypatch, tmp_path):
    """The demo profile switched to the HTTP fetcher, with short timeouts and small batches."""
    monkeypatch.setenv("UPSCWAY_PROFILE", "demo")
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("UPSCWAY_INGEST__FETCHER", "http")
    monkeypatch.setenv("UPSCWAY_INGEST__TIMEOUT_S", "1")
    monkeypatch.setenv("UPSCWAY_INGEST__MAX_BYTES", "200000")
    monkeypatch.setenv("UPSCWAY_INGEST__BATCH_SIZE", "4")
    return tmp_path


GOLD_ROWS = 200  # of the bundled 248: every label, 40 each; fewer chunks keep each training short


@pytest.fixture(scope="session")
def annotated_template(tmp_path_factory):
    """The demo news ingested, 200 rows of the bundled gold imported, every chunk annotated by
    the embedding teacher: built once per test process (it takes ~10 s) and copied for each
    test that asks for `annotated_store`."""
    folder = tmp_path_factory.mktemp("annotated") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UPSCWAY_DATA_DIR", str(folder))
        ingest(return_state=True).result()
        store = open_store(load_settings())
        with store.transaction() as conn:
            gold_repo.import_rows(
                conn,
                read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv")[:GOLD_ROWS],
                "upsc_gs",
                "gold.csv",
                lambda t: len(t.split()),
            )
        annotate(return_state=True).result()
    return folder


@pytest.fixture
def annotated_store(annotated_template, tmp_path, monkeypatch):
    """A copy of `annotated_template` of this test's own; training kept short (one epoch, 64 tokens)."""
    data = tmp_path / "data"
    shutil.copytree(annotated_template, data)
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(data))
    monkeypatch.setenv("UPSCWAY_DISTILL__EPOCHS", "1")
    monkeypatch.setenv("UPSCWAY_DISTILL__MAX_LENGTH", "64")
    return open_store(load_settings())


SHORT_TRAINING = {"UPSCWAY_DISTILL__EPOCHS": "1", "UPSCWAY_DISTILL__MAX_LENGTH": "64"}


@pytest.fixture(scope="session")
def trained_template(annotated_template, tmp_path_factory) -> tuple[Path, str]:
    """`annotated_template` with one short-trained demo-chain student (stage minilm-l3), not
    promoted: trained once per test process, for the tests that need a student but not its
    training. Returns (data folder, model id); `trained_store` copies it per test."""
    from upscway.flows.distill import distill

    data = tmp_path_factory.mktemp("trained") / "data"
    shutil.copytree(annotated_template, data)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**SHORT_TRAINING, "UPSCWAY_DATA_DIR": str(data)}.items():
            patch.setenv(name, value)
        model = distill(stage="minilm-l3", return_state=True).result().stages["minilm-l3"].model
    return data, model


@pytest.fixture
def trained_store(trained_template, tmp_path, monkeypatch) -> tuple[Store, str]:
    """A copy of `trained_template` of this test's own (its training checkpoints left out; the
    registry's paths are relative to the data folder, so the copy uses its own weights):
    (its store, the model id)."""
    template, model = trained_template
    data = tmp_path / "data"
    shutil.copytree(template, data, ignore=shutil.ignore_patterns("checkpoints"))
    for name, value in {**SHORT_TRAINING, "UPSCWAY_DATA_DIR": str(data)}.items():
        monkeypatch.setenv(name, value)
    return open_store(load_settings()), model


def lenient_gate(monkeypatch) -> None:
    """A gate that asks the one-epoch students of these tests only for a certificate: a little
    reported gold, no floor on the seed criteria or the offload, no per-paper drop."""
    for name, value in {
        "MIN_GOLD_SUPPORT": "10",
        "MIN_SUPPORT_PER_PAPER": "1",
        "MIN_RELEVANCE_ACCURACY": "0",
        "MIN_PRECISION": "0",
        "MIN_RECALL": "0",
        "MIN_GS_ACCURACY": "0",
        "MAX_PAPER_DROP": "1",
        "MIN_CASCADE_OFFLOAD": "0",
    }.items():
        monkeypatch.setenv(f"UPSCWAY_GATE__{name}", value)


SESSION = ("UPSCWAY_INGEST__PROCESSES", "UPSCWAY_INGEST__SNAPSHOT_DIR")  # tests/conftest.py


def child_env() -> dict[str, str]:
    """The environment for a CLI subprocess that picks its own profile and data directory:
    this one without its UPSCWAY_ settings, but with the session's ingest in threads and news."""
    return {k: v for k, v in os.environ.items() if not k.startswith("UPSCWAY_") or k in SESSION}


def rows(store: Store, query: str):
    with store.reader() as conn:
        return conn.execute(query).fetchall()


def model_folder(store: Store, model_id: str) -> Path:
    """Where a registered model's folder is (the registry stores it relative to the data directory)."""
    from upscway.storage import models as model_rows

    with store.reader() as conn:
        return Path(model_rows.get(conn, model_id).path)
