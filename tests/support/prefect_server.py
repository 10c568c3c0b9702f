"""A real Prefect server on 127.0.0.1 in its own process, with its own PREFECT_HOME: what
`upscway serve`, workers and several CLI processes talk to in the tests that need one API
shared between processes (the session's ephemeral test harness lives inside pytest)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectServer:
    def __init__(self, home: Path, startup_timeout_s: float = 120):
        self.home = home
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process that should use this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        return {**env, "PREFECT_HOME": str(self.home), "PREFECT_API_URL": self.api_url, **extra}

    def __enter__(self) -> PrefectServer:
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(self.home / "server.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env(
                PREFECT_SERVER_ANALYTICS_ENABLED="false",
                PREFECT_UI_ENABLED="false",
                # the scheduler visits deployments every 5 s (default 60): a scheduled run is created
                # soon after its deployment is served, not up to a minute later
                PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="5",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited: {(self.home / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"prefect server not healthy after {self.startup_timeout_s}s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
