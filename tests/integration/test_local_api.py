"""The temporary Prefect API server a command starts when PREFECT_API_URL is unset: it is
waited for as long as the setting allows, with a line on the terminal while it starts, and one
that never answers is a single line saying what to do, with no traceback."""

import os
import subprocess
import sys

import httpx
import psutil
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.integration.conftest import child_env
from upscway.cli.local_api import ApiUnavailable, prefect_api


@pytest.fixture
def no_api():
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert not PREFECT_API_URL.value()
        yield


def _servers() -> set[int]:
    """Temporary API servers this process started (the session's own harness server among them)."""
    return {
        p.pid
        for p in psutil.Process().children(recursive=True)
        if "prefect.server.api.server:create_app" in " ".join(p.cmdline())
    }


def test_a_slow_start_is_waited_for_with_a_line_on_the_terminal_and_its_log_is_removed(no_api):
    said, before = [], _servers()
    with prefect_api(startup_timeout_s=300, say=said.append, progress_after_s=0):
        url = PREFECT_API_URL.value()
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        assert os.environ["PREFECT_API_URL"] == url
        (ours,) = _servers() - before
        logs = [f.path for f in psutil.Process(ours).open_files() if "upscway-prefect-api-" in f.path]
    assert said and said[0].startswith("waiting for the temporary Prefect API server to start")
    assert "PREFECT_API_URL" not in os.environ and _servers() == before
    assert logs and not any(os.path.exists(log) for log in logs)


def test_a_server_that_does_not_answer_in_time_is_one_error_saying_what_to_do(no_api):
    before = _servers()
    with pytest.raises(ApiUnavailable) as caught:
        with prefect_api(startup_timeout_s=0.2):
            pytest.fail("the block ran without an API")
    message = str(caught.value)
    assert "did not answer within 0 s" in message and "prefect server start" in message and "PREFECT_API_URL" in message
    assert _servers() == before  # stopped, not left behind


def test_the_cli_says_it_in_one_line_and_exits_2(tmp_path):
    env = child_env()
    env.pop("PREFECT_API_URL", None)
    env.update(UPSCWAY_DATA_DIR=str(tmp_path / "data"), UPSCWAY_PREFECT__STARTUP_TIMEOUT_S="0.2")
    done = subprocess.run(
        [sys.executable, "-m", "upscway.cli", "run", "tag"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "uvicorn" not in done.stderr
    assert done.stderr.strip().startswith("error: the temporary Prefect API server did not answer within 0 s")
    assert len(done.stderr.strip().splitlines()) <= 3  # one line, folded by the terminal width at most


def test_commands_started_together_on_a_fresh_prefect_home_each_get_a_server(tmp_path):
    """Two servers migrating one new database at once used to kill one of them (exit 3)."""
    env = child_env()
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    script = "from upscway.cli.local_api import prefect_api\nwith prefect_api():\n    print('answered')"
    started = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    done = [p.communicate(timeout=600) for p in started]
    assert [p.returncode for p in started] == [0, 0, 0, 0], [err[-500:] for _, err in done]
    assert all(out.strip() == "answered" for out, _ in done)


def test_a_command_run_under_one_api_shares_it_with_its_children_and_keeps_its_exit_status(tmp_path):
    """What `make demo` does: its nights share one temporary server, gone when the command ends."""
    env = child_env()
    env.pop("PREFECT_API_URL", None)
    check = (
        "import os, sys, httpx\n"
        "url = os.environ['PREFECT_API_URL']\n"
        "print(url, httpx.get(url + '/health', timeout=10).status_code)\n"
        "sys.exit(3)"
    )
    done = subprocess.run(
        [sys.executable, "-m", "upscway.cli.local_api", sys.executable, "-c", check],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 3, done.stderr
    url, status = done.stdout.split()
    assert url.startswith("http://127.0.0.1:") and status == "200"
    with pytest.raises(httpx.HTTPError):  # stopped with the command
        httpx.get(f"{url}/health", timeout=5)
    usage = subprocess.run(
        [sys.executable, "-m", "upscway.cli.local_api"], env=env, capture_output=True, text=True, timeout=120
    )
    assert usage.returncode == 2 and usage.stderr.startswith("usage: python -m upscway.cli.local_api COMMAND")
