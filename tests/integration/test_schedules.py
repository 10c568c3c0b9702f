"""Schedules proven, not assumed: the server's own scheduler creates the run that a served
deployment executes, and the documented worker path (a process work pool, `prefect deploy`
from deployments/prefect.yaml, `prefect worker start`) completes a run.

Both use the real `prefect server` process of the session; only the ingest step runs (the
demo's saved news), so a run takes seconds once started.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.settings import PREFECT_API_URL, temporary_settings

ROOT = Path(__file__).resolve().parents[2]
INGEST_ONLY = {"tag": {"enabled": False}, "distill": {"enabled": False}}


def test_the_server_scheduler_creates_a_run_that_the_served_deployment_completes(prefect_server, tmp_path):
    deployments = tmp_path / "prefect.yaml"
    deployments.write_text(
        yaml.safe_dump(
            {
                "deployments": [
                    {
                        "name": "nightly-soon",
                        "entrypoint": "flows/nightly.py:nightly",
                        "parameters": INGEST_ONLY,
                        "concurrency_limit": 1,
                        "schedules": [{"interval": 5}],
                    }
                ]
            }
        )
    )
    env = prefect_server.env(
        UPSCWAY_PROFILE="demo", UPSCWAY_DATA_DIR=str(tmp_path / "data"), PREFECT_RUNNER_POLL_FREQUENCY="2"
    )
    log = tmp_path / "serve.log"
    serving = subprocess.Popen(
        [sys.executable, "-m", "upscway.cli", "serve", "--file", str(deployments)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
            run = _wait_for_finished_run("nightly-soon", lambda: _alive(serving, log))
    finally:
        serving.terminate()
        serving.wait(timeout=60)
    assert run.auto_scheduled, "the run was not created by the server's scheduler"
    assert run.idempotency_key.startswith("scheduled "), run.idempotency_key
    assert run.state.is_completed(), (run.state, log.read_text()[-3000:])
    assert _count(env, "articles") > 0


def test_a_worker_on_a_process_pool_completes_a_run_of_the_deployed_prefect_yaml(prefect_server, tmp_path):
    env = prefect_server.env(
        UPSCWAY_PROFILE="demo", UPSCWAY_DATA_DIR=str(tmp_path / "data"), PREFECT_CLI_PROMPT="false"
    )
    _prefect(env, "work-pool", "create", "upscway-process", "--type", "process", "--overwrite")
    deployed = _prefect(env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
    assert "nightly/nightly" in deployed and "backfill/backfill" in deployed, deployed
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        registered = client.read_deployments(
            deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=["nightly", "weekly-distillation", "backfill"])
            )
        )
        assert {d.name: d.work_pool_name for d in registered} == dict.fromkeys(
            ["nightly", "weekly-distillation", "backfill"], "upscway-process"
        )
        try:
            _prefect(env, "deployment", "run", "nightly/nightly", "--params", json.dumps(INGEST_ONLY))
            _prefect(env, "worker", "start", "--pool", "upscway-process", "--run-once", timeout=600)
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["nightly"]))
            )
            (run,) = [r for r in runs if not r.auto_scheduled]  # the schedule's own runs wait for 01:30 IST
        finally:  # the next test that serves these names must not find this pool's cron runs
            for d in registered:
                client.delete_deployment(d.id)
    assert run.state.is_completed(), run.state
    assert run.parameters["distill"] == {"enabled": False}
    assert _count(env, "articles") > 0


def _prefect(env: dict, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def _count(env: dict, table: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "upscway.cli", "sql", f"SELECT count(*) FROM {table}", "-f", "csv"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.splitlines()[1])


def _alive(process: subprocess.Popen, log: Path) -> None:
    assert process.poll() is None, log.read_text()[-3000:]


def _wait_for_finished_run(deployment: str, check, timeout_s: float = 420):
    """The first run of `deployment` that reached a final state (polled; bounded generously)."""
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            check()
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
            )
            finished = [r for r in runs if r.state and r.state.is_final()]
            if finished:
                return finished[0]
            time.sleep(1)
    raise AssertionError(f"no run of {deployment} finished within {timeout_s}s")
