"""The distill flow on the demo chain, and a training killed mid-way that resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL

from upscway.flows.annotate import annotate
from upscway.flows.context import open_store
from upscway.flows.distill import distill
from upscway.flows.ingest import ingest
from upscway.resources import DEPLOYMENTS_DIR
from upscway.settings import load_settings
from upscway.storage import gold as gold_repo
from upscway.storage.store import Store
from upscway.tasks.annotate.gold import read_csv
from upscway.tasks.distill.dataset import split_of
from upscway.tasks.distill.train import TrainConfig


@pytest.fixture
def annotated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("UPSCWAY_DISTILL__EPOCHS", "1")
    monkeypatch.setenv("UPSCWAY_DISTILL__MAX_LENGTH", "64")
    ingest(return_state=True).result()
    store = open_store(load_settings())
    with store.transaction() as conn:
        gold_repo.import_rows(conn, read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv"), "upsc_gs", "gold.csv", lambda t: len(t.split()))
    annotate(return_state=True).result()
    return store


def rows(store: Store, query: str):
    with store.reader() as conn:
        return conn.execute(query).fetchall()


def test_demo_chain_trains_both_stages_and_the_second_learns_from_the_first(annotated_store):
    summary = distill(return_state=True).result()

    first, second = summary["stages"]["minilm-l3"], summary["stages"]["minilm-l1"]
    assert first["teacher"].startswith("embedding:")
    assert second["teacher"] == f"model:{first['model']}"
    chunks = rows(annotated_store, "SELECT count(DISTINCT text_hash) FROM chunks")[0][0]
    assert rows(annotated_store, f"SELECT count(*) FROM annotations WHERE annotator = 'model:{first['model']}'") == [(chunks,)]
    models = dict(rows(annotated_store, "SELECT id, status FROM models"))
    assert models == {first["model"]: "candidate", second["model"]: "candidate"}
    # Nothing from an evaluation article was trained on.
    trained = rows(annotated_store, f"SELECT c.article_id FROM training_examples t JOIN chunks c ON c.id = t.chunk_id WHERE t.model_id = '{first['model']}'")
    assert trained and all(split_of(a) != "eval" for (a,) in trained)
    path = Path(rows(annotated_store, f"SELECT path FROM models WHERE id = '{second['model']}'")[0][0])
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["keep_layers"] == 1 and metrics["train_examples"] == second["train_examples"] > 0
    assert (path / "config.json").exists() and (path / "tokenizer.json").exists()

    # The last stage is judged against its own teacher by default, or against the chain's first.
    from upscway.flows.evaluate import evaluate

    vs_parent = evaluate(model=second["model"], return_state=True).result()
    vs_root = evaluate(model=second["model"], teacher=first["teacher"], return_state=True).result()
    assert (vs_parent["teacher"], vs_root["teacher"]) == (second["teacher"], first["teacher"])
    assert vs_parent["accuracy"] == vs_root["accuracy"] and vs_parent["gold_chunks"] == vs_root["gold_chunks"]
    assert rows(annotated_store, "SELECT teacher FROM evaluations ORDER BY created_at") == [(second["teacher"],), (first["teacher"],)]

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    cli = [sys.executable, "-m", "upscway.flows.cli"]
    listed = subprocess.run([*cli, "models", "list", "-f", "csv"], env=env, capture_output=True, text=True)
    assert first["model"] in listed.stdout and second["model"] in listed.stdout
    exported = path.parent / "exported"
    done = subprocess.run([*cli, "models", "export", second["model"], "--out", str(exported)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (exported / "model.safetensors").exists() and not (exported / "checkpoints").exists()
    missing = subprocess.run([*cli, "models", "show", "no-such-model"], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "no model 'no-such-model'" in missing.stderr


def test_a_killed_training_resumes_from_its_last_checkpoint(annotated_store, tmp_path):
    distill(stage="minilm-l3", return_state=True).result()
    (path,) = rows(annotated_store, "SELECT path FROM models")[0]
    config = TrainConfig.load(Path(path) / "train_config.json")
    config.out_dir, config.save_steps, config.epochs, config.batch_size = str(tmp_path / "resume"), 2, 3, 8
    config.save(tmp_path / "cfg.json")
    command = [sys.executable, "-m", "upscway.tasks.distill.train", str(tmp_path / "cfg.json")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / "resume" / "checkpoints"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(checkpoints.glob("checkpoint-4")) and victim.poll() is None:
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert list(checkpoints.glob("checkpoint-*")), "no checkpoint was written before the kill"
    assert not (tmp_path / "resume" / "metrics.json").exists()

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((tmp_path / "resume" / "metrics.json").read_text())
    expected_steps = 3 * -(-metrics["train_examples"] // 8)
    assert metrics["resumed_from_checkpoint"] is True and metrics["steps"] == expected_steps


def test_evaluate_scores_candidate_and_teacher_on_the_same_gold_chunks(annotated_store):
    from upscway.flows.evaluate import evaluate

    summary = distill(stage="minilm-l3", return_state=True).result()
    model_id = summary["stages"]["minilm-l3"]["model"]

    result = evaluate(model=model_id, return_state=True).result()

    eval_gold = [a for (a,) in rows(annotated_store, "SELECT c.article_id FROM gold_current g JOIN chunks c ON c.id = g.chunk_id")]
    assert result["gold_chunks"] == sum(split_of(a) == "eval" for a in eval_gold) > 50
    ((n, metrics, teacher, paired),) = rows(annotated_store, "SELECT n, metrics, teacher_metrics, paired FROM evaluations")
    metrics, teacher, paired = json.loads(metrics), json.loads(teacher), json.loads(paired)
    assert n == result["gold_chunks"] == paired["n"]
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= teacher["accuracy"] <= 1
    assert paired["accuracy_gap"] == pytest.approx(teacher["accuracy"] - metrics["accuracy"])
    assert sum(map(sum, metrics["confusion"])) == sum(map(sum, teacher["confusion"])) == n
    assert metrics["chunks_per_s"] > 0 and metrics["parameters"] > 1_000_000

    report = Path(result["report"])
    text = report.read_text()
    assert "## Key findings" in text and "| Relevance recall |" in text and "Gate verdict" in text
    assert (report.parent / "report.html").read_text().count("<table>") >= 4
    for png in ("confusion_student", "confusion_teacher", "reliability_student", "reliability_teacher", "per_paper_accuracy"):
        data = (report.parent / f"{png}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    # The UI's copy shows the plots inline (no link to a file it cannot reach) and says where the report is.
    with get_client(sync_client=True) as client:
        (artifact,) = [a for a in client.read_artifacts() if a.key == f"evaluation-{result['evaluation']}"]
    assert artifact.data.count("](data:image/png;base64,iVBORw0KGgo") == 5 and ".png)" not in artifact.data
    assert str((report.parent / "report.html").resolve()) in artifact.data


def test_promote_applies_the_gate_and_rollback_restores(annotated_store, monkeypatch):
    from upscway.flows.promote import promote
    from upscway.storage import models as registry

    first = distill(stage="minilm-l3", return_state=True).result()["stages"]["minilm-l3"]["model"]
    second = distill(stage="minilm-l3", return_state=True).result()["stages"]["minilm-l3"]["model"]

    # ~100 evaluation gold chunks but under 20 for some papers: the default gate cannot decide.
    undecided = promote(model=first, return_state=True).result()
    assert undecided["verdict"] == "insufficient-data" and undecided["production"] == "unchanged"
    with annotated_store.reader() as conn:
        assert registry.holder(conn, "production") is None

    # With the support bar lowered and lenient thresholds, it promotes; the next one too.
    for name, value in {"MIN_GOLD_SUPPORT": "10", "MIN_SUPPORT_PER_PAPER": "1", "MIN_RELEVANCE_ACCURACY": "0", "MIN_PRECISION": "0",
                        "MIN_RECALL": "0", "MIN_GS_ACCURACY": "0", "MAX_GAP_TO_TEACHER": "1"}.items():
        monkeypatch.setenv(f"UPSCWAY_GATE__{name}", value)
    assert promote(model=first, return_state=True).result()["verdict"] == "promote"
    assert promote(model=second, return_state=True).result()["previous_production"] == first

    monkeypatch.setenv("UPSCWAY_GATE__MIN_RELEVANCE_ACCURACY", "1.01")
    rejected = promote(model=first, return_state=True).result()
    assert rejected["verdict"] == "reject" and "FAIL" in rejected["criteria"]["relevance_accuracy"]
    with annotated_store.reader() as conn:
        assert registry.holder(conn, "production") == second
    forced = promote(model=first, force=True, reason="hotfix for a known teacher bug", return_state=True).result()
    assert forced["forced"] is True and forced["production"] == first
    assert rows(annotated_store, "SELECT verdict, forced, force_reason FROM gate_decisions ORDER BY id DESC LIMIT 1") == [
        ("reject", True, "hotfix for a known teacher bug")
    ]

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    back = subprocess.run([sys.executable, "-m", "upscway.flows.cli", "models", "rollback"], env=env, capture_output=True, text=True)
    assert back.returncode == 0, back.stderr
    with annotated_store.reader() as conn:
        assert registry.holder(conn, "production") == second


def test_tag_cascade_routes_by_confidence(annotated_store, monkeypatch):
    from upscway.flows.promote import promote
    from upscway.flows.tag import tag

    total = rows(annotated_store, "SELECT count(*) FROM chunks")[0][0]
    # No production model yet: the teacher decides everything (its answers are already stored).
    first = tag(limit=20, return_state=True).result()
    assert first["production_model"] is None and first["by_teacher"] == 20 and first["offload_rate"] == 0.0
    assert first["teacher_requests"] == 0  # the embedding teacher had answered them all: nothing sent twice

    model = distill(stage="minilm-l3", return_state=True).result()["stages"]["minilm-l3"]["model"]
    promote(model=model, force=True, reason="test the cascade", return_state=True).result()

    monkeypatch.setenv("UPSCWAY_CASCADE__CONFIDENCE_THRESHOLD", "0")
    monkeypatch.setenv("UPSCWAY_CASCADE__RELEVANCE_BAND", "[2, 3]")  # no relevance is uncertain
    confident = tag(limit=30, return_state=True).result()
    assert confident["production_model"] == model and confident["by_student"] == 30 and confident["offload_rate"] == 1.0
    assert confident["agreement_on_both_labelled"] is not None and confident["both_labelled"] == 30

    monkeypatch.setenv("UPSCWAY_CASCADE__CONFIDENCE_THRESHOLD", "1.01")
    rest = tag(return_state=True).result()
    assert rest["by_teacher"] == total - 50 and rest["by_student"] == 0
    assert rows(annotated_store, "SELECT count(*), count(DISTINCT chunk_id) FROM tags") == [(total, total)]
    assert tag(return_state=True).result()["chunks"] == 0
