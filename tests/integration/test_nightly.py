"""The nightly flow end to end on the demo profile (bundled news, embedding teacher, a one-layer
encoder student, bundled gold): one first night read by several tests, each for one promise;
then a second night with nothing new, and a night with a failed step."""

import json
from pathlib import Path

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.utilities.callables import parameter_schema

from tests.integration.conftest import GOLD_ROWS
from upscway.flows.context import open_store
from upscway.flows.nightly import nightly
from upscway.flows.parameters import DistillStep, IngestStep
from upscway.resources import DEPLOYMENTS_DIR
from upscway.settings import load_settings
from upscway.storage import gold as gold_repo
from upscway.storage import models as registry
from upscway.tasks.distill.scoring import score_with_student
from upscway.tasks.gold.sheets import read_csv
from upscway.taxonomy import load_task

CHAINS = Path(__file__).parents[1] / "support" / "chains.yaml"


DEMO_ENV = {
    "UPSCWAY_PROFILE": "demo",
    "UPSCWAY_DISTILL__CHAINS_FILE": str(CHAINS),
    "UPSCWAY_DISTILL__CHAIN": "tiny",
    "UPSCWAY_DISTILL__EPOCHS": "1",
    "UPSCWAY_DISTILL__MAX_LENGTH": "64",
}


def _demo_store(monkeypatch, data_dir):
    for name, value in {**DEMO_ENV, "UPSCWAY_DATA_DIR": str(data_dir)}.items():
        monkeypatch.setenv(name, value)
    store = open_store(load_settings())
    with store.transaction() as conn:
        gold_repo.import_rows(
            conn,
            read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv")[:GOLD_ROWS],
            "upsc_gs",
            "gold.csv",
            lambda t: len(t.split()),
        )
    return store


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    """The demo profile with the one-stage test chain and the bundled gold, in a fresh store."""
    return _demo_store(monkeypatch, tmp_path / "data")


@pytest.fixture(scope="module")
def first_night(tmp_path_factory):
    """One night on a fresh demo store (every step runs), shared by the tests that read it;
    the environment stays set for them."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        store = _demo_store(monkeypatch, tmp_path_factory.mktemp("night") / "data")
        state = nightly(return_state=True)
        yield store, state


def one(store, query):
    with store.reader() as conn:
        return conn.execute(query).fetchall()


def test_the_first_night_completes_every_step_in_order(first_night):
    store, state = first_night
    assert state.is_completed(), state.message
    steps = state.result().steps
    assert [name for name in steps] == ["ingest", "tag", "distill", "evaluate", "promote"]
    assert all(s.status == "completed" for s in steps.values()), steps
    assert steps["ingest"].articles > 0


def test_with_no_production_model_the_teacher_decides_every_chunk(first_night):
    store, state = first_night
    tag = state.result().steps["tag"]
    chunks = one(store, "SELECT count(*) FROM chunks")[0][0]
    assert tag.tagged == chunks and tag.by_teacher == chunks


def test_the_chains_last_student_is_evaluated_against_the_first_teacher_and_decided(first_night):
    store, state = first_night
    summary = state.result()
    steps = summary.steps
    model = steps["distill"].stages["minilm-l1"].model
    assert steps["evaluate"].model == steps["promote"].model == model
    assert steps["evaluate"].teacher == "embedding:all-MiniLM-L6-v2@T0.05"  # the chain's first teacher
    assert Path(summary.report).is_file()
    ((verdict,),) = one(store, f"SELECT verdict FROM gate_decisions WHERE model_id = '{model}'")
    assert verdict == steps["promote"].verdict


def test_each_step_is_a_recorded_subflow_and_the_summary_artifact_lists_them(first_night):
    store, state = first_night
    summary = state.result()
    model = summary.steps["distill"].stages["minilm-l1"].model
    ((status, stored),) = one(store, f"SELECT status, summary FROM flow_runs WHERE id = '{summary.run_id}'")
    assert status == "completed" and json.loads(stored)["steps"]["distill"]["stages"]["minilm-l1"]["model"] == model
    flows = dict(one(store, "SELECT flow, count(*) FROM flow_runs GROUP BY flow"))
    assert flows == {"nightly": 1, "ingest": 1, "tag": 1, "distill": 1, "evaluate": 1, "promote": 1}
    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts()
        summary_artifacts = [a for a in artifact if a.key == "nightly-summary"]
    assert summary_artifacts and "| distill | completed |" in summary_artifacts[0].data


def test_the_students_scores_are_cached_for_a_rerun(first_night):
    store, state = first_night
    model = state.result().steps["distill"].stages["minilm-l1"].model
    hashes = [h for (h,) in one(store, "SELECT text_hash FROM chunks LIMIT 12")]
    first, again = score_twice(store, model, hashes)
    assert (first.name, again.name) == ("Completed", "Cached") and first.result() == again.result()
    assert len(first.result()) == 12 and all(abs(sum(p) - 1) < 1e-4 for p in first.result().values())


def test_a_quiet_night_stores_nothing_and_skips_training_with_the_reason(first_night):
    store, _ = first_night
    quiet = nightly(return_state=True).result().steps
    assert quiet["ingest"].articles == 0 and quiet["tag"].tagged == 0
    assert quiet["distill"].status == "skipped" and "0 new teacher labels" in quiet["distill"].reason
    assert quiet["evaluate"].model_dump() == {
        "status": "skipped",
        "reason": "no new student to evaluate: distill skipped",
    }
    assert quiet["promote"].model_dump() == {
        "status": "skipped",
        "reason": "no new student to promote: evaluate skipped",
    }
    assert one(store, "SELECT count(*) FROM models") == [(1,)]


@flow
def score_twice(store, model_id, hashes):
    with store.reader() as conn:
        model = registry.get(conn, model_id)
    task_def = load_task(load_settings().task.file)
    return [score_with_student(store, model, task_def, hashes, return_state=True) for _ in range(2)]


def test_a_failed_step_fails_the_night_but_not_the_steps_after_it(demo_env, monkeypatch, tmp_path):
    monkeypatch.setenv("UPSCWAY_INGEST__FEEDS_FILE", str(tmp_path / "missing.yaml"))
    state = nightly(distill=DistillStep(enabled=False), return_state=True)
    assert state.is_failed() and "ingest" in state.message
    steps = state.result(raise_on_failure=False).steps
    assert steps["ingest"].status == "failed" and "missing.yaml" in steps["ingest"].error
    assert steps["tag"].status == "completed"
    assert steps["tag"].tagged == one(demo_env, "SELECT count(*) FROM chunks")[0][0]
    assert one(demo_env, "SELECT status FROM flow_runs WHERE flow = 'nightly'") == [("failed",)]


def test_parameters_are_pydantic_models_the_ui_draws_as_forms():
    schema = parameter_schema(nightly).model_dump()
    assert set(schema["properties"]) >= {"ingest", "tag", "distill", "promote"}
    definitions = schema["definitions"]
    assert definitions["DistillStep"]["properties"]["min_new_teacher_labels"]["description"].startswith("Retrain when")
    assert IngestStep(limit=5).model_dump()["limit"] == 5
    with pytest.raises(ValueError):
        IngestStep(limit=0)
