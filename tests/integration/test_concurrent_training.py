"""Two runs on one data folder, one of them training: the other sees that the training run is
alive and leaves its model alone (a nightly skips distillation with the reason, a distill run
stops with it), and once the training process is dead, the next run resumes its model. A night
that finds the stage registered by a live run only after it looked skips distillation too."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import child_env, rows
from tests.support.models import new_model
from upscway.flows import nightly as nightly_module
from upscway.flows.parameters import DistillStep, IngestStep, TagStep
from upscway.processes import ProcessId
from upscway.settings import load_settings
from upscway.storage import models as registry
from upscway.storage import runs
from upscway.tasks.annotate.teachers import annotator_of
from upscway.tasks.distill.chains import load_chain

REGISTERED = "examples for demo-minilm-l3-"  # logged once the model is registered, before training starts


def _cli(*args):
    return [sys.executable, "-m", "upscway.cli", *args]


def _start_training(env):
    """A `run distill` of the first stage, in its own process, reading its log until its model
    is registered (it then loads the student and trains: seconds more, with the store closed)."""
    proc = subprocess.Popen(
        _cli("--verbose", "run", "distill", "--stage", "minilm-l3"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines, registered = [], threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if REGISTERED in line:
                registered.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 600
    while not registered.wait(1) and proc.poll() is None and time.monotonic() < deadline:
        pass
    assert registered.is_set(), "".join(lines)[-3000:]
    return proc


def test_a_live_training_is_left_alone_and_a_dead_ones_model_is_resumed(annotated_store):
    env = {
        **child_env(),
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_LOGGING_LEVEL": "INFO",
        "UPSCWAY_DATA_DIR": os.environ["UPSCWAY_DATA_DIR"],
        "UPSCWAY_DISTILL__EPOCHS": "1",
        "UPSCWAY_DISTILL__MAX_LENGTH": "64",
    }
    first = _start_training(env)
    try:
        os.kill(first.pid, signal.SIGSTOP)  # alive, about to train, and holding no connection to the store
        ((model, owner),) = rows(annotated_store, "SELECT id, flow_run_id FROM models WHERE status = 'training'")

        night = subprocess.run(
            _cli("run", "nightly", "--skip", "ingest", "--skip", "tag", "--min-new-teacher-labels", "0"),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert night.returncode == 0, night.stderr[-3000:]
        (summary,) = rows(annotated_store, "SELECT summary FROM flow_runs WHERE flow = 'nightly'")[0]
        steps = json.loads(summary)["steps"]
        assert steps["distill"]["status"] == "skipped" and model in steps["distill"]["reason"], steps["distill"]
        assert f"process {first.pid}" in steps["distill"]["reason"] and "still alive" in steps["distill"]["reason"]
        assert steps["evaluate"]["status"] == steps["promote"]["status"] == "skipped"

        rival = subprocess.run(
            _cli("run", "distill", "--stage", "minilm-l3"), env=env, capture_output=True, text=True, timeout=600
        )
        said = [line for line in rival.stderr.splitlines() if line.startswith("error:")]
        assert rival.returncode == 2 and "Traceback" not in rival.stderr, rival.stderr[-3000:]
        assert len(said) == 1 and model in said[0] and f"process {first.pid}" in said[0] and "still alive" in said[0], (
            rival.stderr[-3000:]
        )

        assert rows(annotated_store, "SELECT id, status, flow_run_id FROM models") == [(model, "training", owner)]
        assert rows(annotated_store, "SELECT count(*) FROM evaluations") == [(0,)]
    finally:
        first.kill()
        first.wait(timeout=60)

    resumed = subprocess.run(
        _cli("--verbose", "run", "distill", "--stage", "minilm-l3"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming the interrupted training of {model}" in resumed.stderr
    ((status, taken_by),) = rows(annotated_store, f"SELECT status, flow_run_id FROM models WHERE id = '{model}'")
    assert status == "candidate" and taken_by != owner
    assert rows(annotated_store, "SELECT count(*) FROM models") == [(1,)]
    assert rows(annotated_store, f"SELECT status FROM flow_runs WHERE id = '{owner}'") == [("crashed",)]


def _registered_by_a_live_run(store, model_id):
    """The first stage registered by another run that is alive (this process)."""
    settings = load_settings()
    first = load_chain(settings.distill.chain, settings.distill.chains_file)[0]
    with store.transaction() as conn:
        runs.start_run(conn, "other-run", "distill", {}, ProcessId.current())
        registry.register(
            conn,
            new_model(
                model_id,
                chain=settings.distill.chain,
                stage=first.name,
                kind=first.kind,
                teacher=first.teacher.annotator(annotator_of(settings.teacher)),
                run_id="other-run",
            ),
        )


def test_a_night_that_finds_the_stage_just_registered_by_a_live_run_skips_distillation(annotated_store, monkeypatch):
    _registered_by_a_live_run(annotated_store, "demo-minilm-l3-other")
    monkeypatch.setattr(nightly_module, "training_elsewhere", lambda store, chain: None)  # after this night looked

    state = nightly_module.nightly(
        ingest=IngestStep(enabled=False),
        tag=TagStep(enabled=False),
        distill=DistillStep(min_new_teacher_labels=0),
        return_state=True,
    )

    steps = state.result().steps
    assert steps["distill"].status == "skipped" and "demo-minilm-l3-other" in steps["distill"].reason, steps["distill"]
    assert steps["evaluate"].status == steps["promote"].status == "skipped"
    assert rows(annotated_store, "SELECT id FROM models") == [("demo-minilm-l3-other",)]
