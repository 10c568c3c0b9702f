"""Test-wide environment: offline, no analytics, Prefect state in a temporary home, ingest in threads,
one compute thread per process."""

import os
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="upscway-prefect-"))
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
# Two pytest workers share two cores, each with its servers and subprocesses: torch's default of
# a thread per core oversubscribes them, and its OpenMP threads spin while they wait (measured:
# tests/unit/tasks/distill/test_encoder.py took 36 CPU-seconds, 16 with one thread). Set before
# torch is imported; the processes the tests start inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
for name in [n for n in os.environ if n.startswith("UPSCWAY_")]:
    del os.environ[name]
# Scrape in the flow's threads: a pool of spawned workers costs seconds of imports per run, on
# every run of every test. The worker-process path has its own tests, which ask for it.
os.environ["UPSCWAY_INGEST__PROCESSES"] = "0"
# The demo profile's news, as the tests were written for: the hand-written pages only (make demo
# also reads the ones tools/demo_news.py generated).
from tests.support.site import handwritten_snapshot  # noqa: E402

os.environ["UPSCWAY_INGEST__SNAPSHOT_DIR"] = str(
    handwritten_snapshot(Path(tempfile.mkdtemp(prefix="upscway-news-")) / "snapshot")
)

import pytest  # noqa: E402

from upscway.storage.migrations import migrate  # noqa: E402
from upscway.storage.store import Store  # noqa: E402


@pytest.fixture
def store(tmp_path) -> Store:
    """A migrated, empty store in a temporary data directory."""
    s = Store(tmp_path / "upscway.duckdb", lock_timeout_s=10)
    migrate(s)
    return s


def pytest_terminal_summary(terminalreporter):
    """Show the lines the simulation tests record (`record_property("simulation", line)`):
    pytest captures their output, and pytest-xdist's workers show none; user_properties travel
    with the reports to the controller."""
    lines = []
    for category in ("passed", "failed"):
        for report in terminalreporter.stats.get(category, []):
            for name, value in getattr(report, "user_properties", ()):
                if name == "simulation" and value not in lines:
                    lines.append(value)
    if lines:
        terminalreporter.write_sep("-", "simulations")
        for line in lines:
            terminalreporter.write_line(line)
