"""The distill flow on the demo chain, and a training killed mid-way that resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import model_folder, rows
from upscway.flows.distill import distill
from upscway.tasks.distill.dataset import split_of
from upscway.tasks.distill.train import TrainConfig


def test_demo_chain_trains_both_stages_and_the_second_learns_from_the_first(annotated_store, tmp_path):
    summary = distill(return_state=True).result()

    first, second = summary.stages["minilm-l3"], summary.stages["minilm-l1"]
    assert first.teacher.startswith("embedding:")
    assert second.teacher == f"model:{first.model}"
    chunks = rows(annotated_store, "SELECT count(DISTINCT text_hash) FROM chunks")[0][0]
    relabelled = rows(annotated_store, f"SELECT count(*) FROM annotations WHERE annotator = 'model:{first.model}'")
    assert relabelled == [(chunks,)]
    models = dict(rows(annotated_store, "SELECT id, status FROM models"))
    assert models == {first.model: "candidate", second.model: "candidate"}
    # Nothing from an evaluation article was trained on.
    trained = rows(
        annotated_store,
        "SELECT c.article_id FROM training_examples t JOIN chunks c ON c.id = t.chunk_id "
        f"WHERE t.model_id = '{first.model}'",
    )
    assert trained and all(split_of(a) != "eval" for (a,) in trained)
    path = model_folder(annotated_store, second.model)
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["keep_layers"] == 1 and metrics["train_examples"] == second.train_examples > 0
    # Calibrated on its validation split: a temperature, and the confidences drift is measured against.
    assert 0.25 <= metrics["temperature"] <= 8 and metrics["validation_nll_after"] <= metrics["validation_nll_before"]
    assert len(metrics["validation_confidences"]) == metrics["validation_examples"]
    assert (path / "config.json").exists() and (path / "tokenizer.json").exists()

    # The last stage is judged against its own teacher by default, or against the chain's first.
    from upscway.flows.evaluate import evaluate

    vs_parent = evaluate(model=second.model, return_state=True).result()
    vs_root = evaluate(model=second.model, teacher=first.teacher, return_state=True).result()
    assert (vs_parent.teacher, vs_root.teacher) == (second.teacher, first.teacher)
    assert vs_parent.accuracy == vs_root.accuracy and vs_parent.gold_chunks == vs_root.gold_chunks
    report = Path(vs_parent.report).read_text()
    assert (
        "Expected calibration error before temperature scaling (T = " in report
        and "## The cascade as deployed" in report
    )
    teachers = rows(annotated_store, "SELECT teacher FROM evaluations ORDER BY created_at")
    assert teachers == [(second.teacher,), (first.teacher,)]

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    cli = [sys.executable, "-m", "upscway.cli"]
    listed = subprocess.run([*cli, "models", "list", "-f", "csv"], env=env, capture_output=True, text=True)
    assert first.model in listed.stdout and second.model in listed.stdout
    exported = tmp_path / "exported"  # outside the data directory's own folders (issue 30, row 10)
    done = subprocess.run(
        [*cli, "models", "export", second.model, "--out", str(exported)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (exported / "model.safetensors").exists() and not (exported / "checkpoints").exists()
    shown = subprocess.run(
        [*cli, "models", "show", second.model[:-3]],  # a prefix
        env=env,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0 and second.model in shown.stdout and "metrics.temperature" in shown.stdout
    missing = subprocess.run([*cli, "models", "show", "no-such-model"], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "no model 'no-such-model'" in missing.stderr


def test_a_killed_training_resumes_from_its_last_checkpoint(trained_store, tmp_path):
    annotated_store, model = trained_store
    config = TrainConfig.load(Path(model_folder(annotated_store, model)) / "train_config.json")
    # a checkpoint (weights and optimiser state) every 5 of ~30 steps: killed after the second
    training = config.training.model_copy(update={"save_steps": 5, "epochs": 1, "batch_size": 8})
    config = config.model_copy(update={"out_dir": str(tmp_path / "resume"), "training": training})
    config.save(tmp_path / "cfg.json")
    command = [sys.executable, "-m", "upscway.tasks.distill.train", str(tmp_path / "cfg.json")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / "resume" / "checkpoints"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(checkpoints.glob("checkpoint-10")) and victim.poll() is None:
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert list(checkpoints.glob("checkpoint-*")), "no checkpoint was written before the kill"
    assert not (tmp_path / "resume" / "metrics.json").exists()

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((tmp_path / "resume" / "metrics.json").read_text())
    expected_steps = -(-metrics["train_examples"] // 8)
    assert metrics["resumed_from_checkpoint"] is True and metrics["steps"] == expected_steps
