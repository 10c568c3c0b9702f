"""`upscway serve` against a real Prefect server on 127.0.0.1: the deployments of
deployments/prefect.yaml are listed with their schedules, and a run triggered through the API
(what the UI's "Run" button does) is picked up by the serving process and completes."""

import subprocess
import sys
import time

from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings


def test_served_deployments_run_when_triggered_through_the_api(prefect_server, tmp_path):
    server = prefect_server
    env = server.env(UPSCWAY_PROFILE="demo", UPSCWAY_DATA_DIR=str(tmp_path / "data"))
    log = open(tmp_path / "serve.log", "wb")
    serving = subprocess.Popen([sys.executable, "-m", "upscway.flows.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            deployments = _wait_for_deployments(serving, tmp_path, 3)
            nightly = deployments["nightly/nightly"]
            (schedule,) = nightly.schedules
            assert schedule.schedule.cron == "30 1 * * *" and schedule.schedule.timezone == "Asia/Kolkata"
            assert deployments["nightly/weekly-distillation"].parameters["ingest"] == {"enabled": False}
            assert deployments["backfill/backfill"].schedules == []

            run = run_deployment("nightly/nightly", parameters={"distill": {"enabled": False}}, timeout=300, poll_interval=2)
        assert run.state.is_completed(), (run.state, (tmp_path / "serve.log").read_text()[-3000:])
    finally:
        serving.terminate()
        serving.wait(timeout=30)
    # The served run used the serving process's settings: the demo news landed in its data dir.
    counted = subprocess.run(
        [sys.executable, "-m", "upscway.flows.cli", "sql", "SELECT count(*) FROM tags", "-f", "csv"],
        env=env, capture_output=True, text=True,
    )
    assert counted.returncode == 0, counted.stderr
    assert int(counted.stdout.splitlines()[1]) > 0


def _wait_for_deployments(serving, tmp_path, n, timeout_s=120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert serving.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        with get_client(sync_client=True) as client:
            found = {f"{client.read_flow(d.flow_id).name}/{d.name}": d for d in client.read_deployments()}
        if len(found) >= n:
            return found
        time.sleep(1)
    raise AssertionError(f"deployments not registered: {(tmp_path / 'serve.log').read_text()[-3000:]}")
