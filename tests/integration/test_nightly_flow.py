"""The nightly flow end to end on the demo profile (bundled news, embedding teacher, a one-layer
encoder student, bundled gold), a second night with nothing new, and a night with a failed step."""

import json
from pathlib import Path

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.utilities.callables import parameter_schema

from upscway.flows.context import open_store
from upscway.flows.nightly import nightly
from upscway.flows.parameters import DistillStep, IngestStep
from upscway.resources import DEPLOYMENTS_DIR
from upscway.settings import load_settings
from upscway.storage import gold as gold_repo
from upscway.storage import models as registry
from upscway.tasks.annotate.gold import read_csv
from upscway.tasks.annotate.taxonomy import load_task
from upscway.tasks.distill.scoring import score_with_student

CHAINS = Path(__file__).parents[1] / "support" / "chains.yaml"


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    monkeypatch.setenv("UPSCWAY_PROFILE", "demo")
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("UPSCWAY_DISTILL__CHAINS_FILE", str(CHAINS))
    monkeypatch.setenv("UPSCWAY_DISTILL__CHAIN", "tiny")
    monkeypatch.setenv("UPSCWAY_DISTILL__EPOCHS", "1")
    monkeypatch.setenv("UPSCWAY_DISTILL__MAX_LENGTH", "64")
    store = open_store(load_settings())
    with store.transaction() as conn:
        gold_repo.import_rows(conn, read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv"), "upsc_gs", "gold.csv", lambda t: len(t.split()))
    return store


def one(store, query):
    with store.reader() as conn:
        return conn.execute(query).fetchall()


def test_a_night_ingests_tags_trains_evaluates_and_decides_then_a_quiet_night_skips_training(demo_env):
    state = nightly(return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    steps = summary["steps"]
    assert [name for name in steps] == ["ingest", "tag", "distill", "evaluate", "promote"]
    assert all(s["status"] == "completed" for s in steps.values()), steps
    chunks = one(demo_env, "SELECT count(*) FROM chunks")[0][0]
    assert steps["ingest"]["articles"] > 0
    # No production model on the first night: the teacher decided every chunk.
    assert steps["tag"]["tagged"] == chunks and steps["tag"]["by_teacher"] == chunks
    model = steps["distill"]["stages"]["minilm-l1"]["model"]
    assert steps["evaluate"]["model"] == steps["promote"]["model"] == model
    assert steps["evaluate"]["teacher"] == "embedding:all-MiniLM-L6-v2@T0.05"  # the chain's first teacher
    assert Path(summary["report"]).is_file()
    ((verdict,),) = one(demo_env, f"SELECT verdict FROM gate_decisions WHERE model_id = '{model}'")
    assert verdict == steps["promote"]["verdict"]
    (status, stored), = one(demo_env, f"SELECT status, summary FROM flow_runs WHERE id = '{summary['run_id']}'")
    assert status == "completed" and json.loads(stored)["steps"]["distill"]["stages"]["minilm-l1"]["model"] == model
    # Each step is a subflow with its own run, and the summary artifact lists them.
    flows = dict(one(demo_env, "SELECT flow, count(*) FROM flow_runs GROUP BY flow"))
    assert flows == {"nightly": 1, "ingest": 1, "tag": 1, "distill": 1, "evaluate": 1, "promote": 1}
    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts()
        summary_artifacts = [a for a in artifact if a.key == "nightly-summary"]
    assert summary_artifacts and "| distill | completed |" in summary_artifacts[0].data

    quiet = nightly(return_state=True).result()["steps"]
    assert quiet["ingest"]["articles"] == 0 and quiet["tag"]["tagged"] == 0
    assert quiet["distill"]["status"] == "skipped" and "0 new teacher labels" in quiet["distill"]["reason"]
    assert quiet["evaluate"] == {"status": "skipped", "reason": "no new student to evaluate: distill skipped"}
    assert quiet["promote"] == {"status": "skipped", "reason": "no new student to promote: evaluate skipped"}
    assert one(demo_env, "SELECT count(*) FROM models") == [(1,)]

    # The student's scores are cached: a second scoring of the same texts is not recomputed.
    hashes = [h for (h,) in one(demo_env, "SELECT text_hash FROM chunks LIMIT 12")]
    first, again = score_twice(demo_env, model, hashes)
    assert (first.name, again.name) == ("Completed", "Cached") and first.result() == again.result()
    assert len(first.result()) == 12 and all(abs(sum(p) - 1) < 1e-4 for p in first.result().values())


@flow
def score_twice(store, model_id, hashes):
    with store.reader() as conn:
        model = registry.get(conn, model_id)
    task_def = load_task(load_settings().teacher.task_file)
    return [score_with_student(store, model, task_def, hashes, return_state=True) for _ in range(2)]


def test_a_failed_step_fails_the_night_but_not_the_steps_after_it(demo_env, monkeypatch, tmp_path):
    monkeypatch.setenv("UPSCWAY_INGEST__FEEDS_FILE", str(tmp_path / "missing.yaml"))
    state = nightly(distill=DistillStep(enabled=False), return_state=True)
    assert state.is_failed() and "ingest" in state.message
    steps = state.result(raise_on_failure=False)["steps"]
    assert steps["ingest"]["status"] == "failed" and "missing.yaml" in steps["ingest"]["error"]
    assert steps["tag"]["status"] == "completed" and steps["tag"]["tagged"] == one(demo_env, "SELECT count(*) FROM chunks")[0][0]
    assert one(demo_env, "SELECT status FROM flow_runs WHERE flow = 'nightly'") == [("failed",)]


def test_parameters_are_pydantic_models_the_ui_draws_as_forms():
    schema = parameter_schema(nightly).model_dump()
    assert set(schema["properties"]) >= {"ingest", "tag", "distill", "promote"}
    definitions = schema["definitions"]
    assert definitions["DistillStep"]["properties"]["min_new_teacher_labels"]["description"].startswith("Retrain when")
    assert IngestStep(limit=5).model_dump()["limit"] == 5
    with pytest.raises(ValueError):
        IngestStep(limit=0)
