"""The Prefect API for one CLI process when none is configured: a temporary server that dies
with the process that started it.

Prefect starts the same temporary server itself when PREFECT_API_URL is unset, and stops it
at exit; but a process that is SIGKILLed (or OOM-killed) never reaches its exit handlers, and
that server (uvicorn, ~230 MB) is left running, re-parented to PID 1. Here the server is
started with the kernel's parent-death signal set (Linux `PR_SET_PDEATHSIG`), so it gets
SIGTERM the moment its parent goes, however the parent went. The command line is Prefect's
own for its temporary server (`prefect.server.api.server.SubprocessASGIServer`).

With PREFECT_API_URL set (a long-lived `prefect server start`, as docs/how-to/prefect-server.md recommends for
schedules and the UI) or on a system without the parent-death signal, nothing is started
here and Prefect's own behaviour applies.

A busy machine can take far longer than Prefect's own 20 s to start it: the wait is
`prefect.startup_timeout_s` (default 300 s), the terminal is told after a few seconds what is
being waited for, and a server that never answers is one line (an InputError) saying what to
do. The server's own output (uvicorn's, including the traceback its lifespan prints when it is
stopped) goes to a log file, never to the terminal; a failed start names that file.

Two servers starting at once on one Prefect database (two commands started together on a fresh
machine, or two test workers sharing PREFECT_HOME) both run its migrations and one dies
("Online migration expected to match one row"); so starts are taken one at a time, under a
lock file in PREFECT_HOME held until the server answers.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import prefect
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

from upscway.errors import InputError
from upscway.settings import load_settings

_PR_SET_PDEATHSIG = 1
PROGRESS_AFTER_S, PROGRESS_EVERY_S = 5.0, 15.0


class ApiUnavailable(InputError):
    """The temporary Prefect API server did not start; the message says what to do instead."""


def _die_with_parent() -> None:  # runs in the child, between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prefect_api(
    startup_timeout_s: float = 300.0,
    say: Callable[[str], None] = lambda line: None,
    progress_after_s: float = PROGRESS_AFTER_S,
) -> Iterator[None]:
    """Prefect calls inside the block go to the configured API, or to a temporary server tied
    to this process, waited for up to `startup_timeout_s` with a line to `say` while it starts
    (see the module's docstring)."""
    if PREFECT_API_URL.value() or not sys.platform.startswith("linux"):
        yield
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = Path(tempfile.mkstemp(prefix="upscway-prefect-api-", suffix=".log")[1])
    with _one_start_at_a_time(), open(log, "wb") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(prefect.__module_path__.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env={
                **os.environ,
                "PREFECT_UI_ENABLED": "0",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1",
            },
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        try:
            _wait_until_healthy(server, url, startup_timeout_s, say, progress_after_s, log)
        except BaseException:
            _stop(server)
            raise
    try:
        os.environ["PREFECT_API_URL"] = url  # for the processes this one starts (served runs, workers)
        with temporary_settings({PREFECT_API_URL: url}):
            try:
                yield
            finally:
                _drain()  # what the run logged reaches the server before it stops
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        _stop(server)
        log.unlink(missing_ok=True)


@contextmanager
def _one_start_at_a_time() -> Iterator[None]:
    home = Path(PREFECT_HOME.value()).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".upscway-server-start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # released when the file closes


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _drain() -> None:
    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


WHAT_TO_DO = (
    "start one that stays up (`prefect server start`) and set PREFECT_API_URL=http://127.0.0.1:4200/api, "
    "or allow a slower start (UPSCWAY_PREFECT__STARTUP_TIMEOUT_S)"
)


def _wait_until_healthy(
    server: subprocess.Popen, url: str, timeout_s: float, say: Callable[[str], None], progress_after_s: float, log: Path
) -> None:
    started = time.monotonic()
    next_line = started + progress_after_s
    while (waited := time.monotonic() - started) < timeout_s:
        if server.poll() is not None:
            raise ApiUnavailable(
                f"the temporary Prefect API server exited with status {server.returncode} (its log: {log}): {WHAT_TO_DO}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() >= next_line:
            say(
                f"waiting for the temporary Prefect API server to start ({waited:.0f} s so far, up to {timeout_s:.0f} s; "
                "a running `prefect server start` with PREFECT_API_URL set skips this)"
            )
            next_line += PROGRESS_EVERY_S
        time.sleep(0.1)
    raise ApiUnavailable(
        f"the temporary Prefect API server did not answer within {timeout_s:.0f} s (its log: {log}): {WHAT_TO_DO}"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m upscway.cli.local_api COMMAND [ARG...]`: run COMMAND with one temporary Prefect
    API for every flow it starts (the demo's nights share one server instead of starting one
    each); its exit status is COMMAND's. With PREFECT_API_URL set, COMMAND runs against that."""
    command = sys.argv[1:] if argv is None else argv
    if not command:
        print("usage: python -m upscway.cli.local_api COMMAND [ARG...]", file=sys.stderr)
        return 2
    try:
        with prefect_api(load_settings().prefect.startup_timeout_s, say=lambda line: print(line, file=sys.stderr)):
            return subprocess.run(command).returncode
    except InputError as e:  # bad settings in the environment, or a server that never answered
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
