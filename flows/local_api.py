"""The Prefect API for one CLI process when none is configured: a temporary server that dies
with the process that started it.

Prefect starts the same temporary server itself when PREFECT_API_URL is unset, and stops it
at exit; but a process that is SIGKILLed (or OOM-killed) never reaches its exit handlers, and
that server (uvicorn, ~230 MB) is left running, re-parented to PID 1. Here the server is
started with the kernel's parent-death signal set (Linux `PR_SET_PDEATHSIG`), so it gets
SIGTERM the moment its parent goes, however the parent went. The command line is Prefect's
own for its temporary server (`prefect.server.api.server.SubprocessASGIServer`).

With PREFECT_API_URL set (a long-lived `prefect server start`, as README recommends for
schedules and the UI) or on a system without the parent-death signal, nothing is started
here and Prefect's own behaviour applies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import prefect
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child, between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prefect_api() -> Iterator[None]:
    """Prefect calls inside the block go to the configured API, or to a temporary server tied
    to this process (see the module's docstring)."""
    if PREFECT_API_URL.value() or not sys.platform.startswith("linux"):
        yield
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
            "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "error", "--lifespan", "on",
        ],
        env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"},
        preexec_fn=_die_with_parent,
    )
    try:
        _wait_until_healthy(server, url, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        os.environ["PREFECT_API_URL"] = url  # for the processes this one starts (served runs, workers)
        with temporary_settings({PREFECT_API_URL: url}):
            try:
                yield
            finally:
                _drain()  # what the run logged reaches the server before it stops
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _drain() -> None:
    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


def _wait_until_healthy(server: subprocess.Popen, url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the temporary Prefect server exited with status {server.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the temporary Prefect server was not healthy after {timeout_s:.0f} s")
