"""`upscway serve` against a real Prefect server on 127.0.0.1: the deployments of
deployments/prefect.yaml are listed with their schedules, and a run triggered through the API
(what the UI's "Run" button does) is picked up by the serving process, completes, and its log
in the server tells the story: each step's outcome and the training progress in sentences."""

import re
import subprocess
import sys
import time
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId, LogFilter, LogFilterFlowRunId
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.integration.conftest import GOLD_ROWS

ROOT = Path(__file__).resolve().parents[2]
TRAINING = re.compile(r"training tiny-minilm-l1-\S+: (\d+) steps of \d+ examples$")


def test_served_deployments_run_when_triggered_through_the_api(prefect_server, tmp_path):
    server = prefect_server
    env = server.env(
        UPSCWAY_PROFILE="demo",
        UPSCWAY_DATA_DIR=str(tmp_path / "data"),
        PREFECT_LOGGING_LEVEL="INFO",
        # a one-layer student for two epochs: a few dozen steps, a progress line every 10
        UPSCWAY_DISTILL__CHAINS_FILE=str(ROOT / "tests" / "support" / "chains.yaml"),
        UPSCWAY_DISTILL__CHAIN="tiny",
        UPSCWAY_DISTILL__EPOCHS="2",
        UPSCWAY_DISTILL__MAX_LENGTH="64",
    )
    bundled = (ROOT / "deployments" / "demo" / "gold.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "gold.csv").write_text(
        "".join(bundled[: 1 + GOLD_ROWS]), encoding="utf-8"
    )  # header and the original 200
    gold = subprocess.run(
        [sys.executable, "-m", "upscway.cli", "gold", "import", str(tmp_path / "gold.csv")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert gold.returncode == 0, gold.stderr
    log = open(tmp_path / "serve.log", "wb")
    serving = subprocess.Popen(
        [sys.executable, "-m", "upscway.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            deployments = _wait_for_deployments(
                serving, tmp_path, {"nightly/nightly", "nightly/weekly-distillation", "backfill/backfill"}
            )
            nightly = deployments["nightly/nightly"]
            (schedule,) = nightly.schedules
            assert schedule.schedule.cron == "30 1 * * *" and schedule.schedule.timezone == "Asia/Kolkata"
            assert deployments["nightly/weekly-distillation"].parameters["ingest"] == {"enabled": False}
            assert deployments["backfill/backfill"].schedules == []

            run = run_deployment("nightly/nightly", timeout=400, poll_interval=2)
            assert run.state.is_completed(), (run.state, (tmp_path / "serve.log").read_text()[-3000:])
            log = _run_log(run.id)
    finally:
        serving.terminate()
        serving.wait(timeout=30)
    # The served run used the serving process's settings: the demo news landed in its data dir.
    counted = subprocess.run(
        [sys.executable, "-m", "upscway.cli", "sql", "SELECT count(*) FROM tags", "-f", "csv"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert counted.returncode == 0, counted.stderr
    assert int(counted.stdout.splitlines()[1]) > 0
    # The run's log in the UI: each step's outcome in a sentence, training progress included.
    assert any(m.startswith("ingest finished in ") and "articles and" in m for m in log), log
    assert any(m.startswith("tag finished in ") and "chunks tagged" in m for m in log), log
    (steps,) = [int(m.group(1)) for m in map(TRAINING.match, log) if m]
    assert steps >= 10, log
    assert any(
        f" step 10/{steps} (epoch " in m and "KD loss" in m and "CE loss" in m and "samples/s" in m for m in log
    ), log
    assert any(m.startswith("evaluate finished in ") and "gold chunks: accuracy" in m for m in log), log
    assert any(m.startswith("promote finished in ") and "gate verdict" in m for m in log), log


def _wait_for_deployments(serving, tmp_path, names: set[str], timeout_s=120):
    """The server's deployments once all of `names` are registered (the session's server may
    hold others, from earlier tests)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert serving.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        with get_client(sync_client=True) as client:
            found = {f"{client.read_flow(d.flow_id).name}/{d.name}": d for d in client.read_deployments()}
        if names <= found.keys():
            return found
        time.sleep(1)
    raise AssertionError(f"deployments not registered: {(tmp_path / 'serve.log').read_text()[-3000:]}")


def _run_log(run_id, timeout_s: float = 180) -> list[str]:
    """The messages logged by a flow run and its subflows, as the UI shows them. The served
    process sends its last lines to the API in the background, after the run's state is final,
    so this reads until the night's last line (promote's) is there, or `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        messages = _logged(run_id)
        if any(m.startswith("promote finished in ") for m in messages) or time.monotonic() > deadline:
            return messages
        time.sleep(1)


def _logged(run_id) -> list[str]:
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id]))
        )
        ids = [run_id, *(c.id for c in children)]
        messages, page = [], None
        while page is None or len(page) == 200:
            page = client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)), limit=200, offset=len(messages)
            )
            messages += [entry.message for entry in page]
        return messages
