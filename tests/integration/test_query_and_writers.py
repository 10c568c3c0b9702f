"""An analyst's query never makes a writer fail: `upscway sql` holds the file (read-only, which
still keeps writers out) for at most `sql.timeout_s`, and an ingest that starts meanwhile waits,
saying which process holds the store, then stores the night's news. Ctrl-C stops the query with
one line and status 130."""

import signal
import subprocess
import sys
import time

from tests.integration.conftest import child_env
from upscway import progress
from upscway.storage.migrations import migrate
from upscway.storage.store import Store

ENDLESS = "SELECT count(*) FROM range(1000000000000)"


class Notes:
    def __init__(self):
        self.lines = []

    def advance(self, stage, done, total):
        pass

    def finished(self, step, status, line):
        pass

    def note(self, line):
        self.lines.append(line)


def _default_sigint() -> None:
    """A process started from a background job inherits SIGINT ignored; a person's shell does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sql(tmp_path, *extra_env):
    env = {**child_env(), "UPSCWAY_DATA_DIR": str(tmp_path / "data"), **dict(extra_env)}
    return subprocess.Popen(
        [sys.executable, "-m", "upscway.cli", "sql", ENDLESS],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def _holding(store: Store, query: subprocess.Popen) -> None:
    """Until the query's process has the file open."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and query.poll() is None:
        try:
            with Store(store.path, lock_timeout_s=0.01).transaction():
                pass
        except Exception:
            return
        time.sleep(0.1)
    raise AssertionError("the query never held the store")


def test_a_writer_waits_out_a_bounded_query_and_says_who_holds_the_store(tmp_path, monkeypatch):
    from upscway.flows.ingest import ingest

    store = Store(tmp_path / "data" / "upscway.duckdb", lock_timeout_s=120)
    migrate(store)
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "data"))
    query = _sql(tmp_path, ("UPSCWAY_SQL__TIMEOUT_S", "6"))
    _holding(store, query)
    notes = Notes()
    progress.listen(notes)
    try:
        night = ingest(return_state=True)  # the demo's news, while the analyst's query holds the store
    finally:
        progress.forget(notes)
    _, err = query.communicate(timeout=60)
    assert query.returncode == 2 and "ran for sql.timeout_s = 6 s and was stopped" in err
    assert night.is_completed() and night.result().articles == 17
    assert notes.lines and f"process {query.pid}" in notes.lines[0] and "upscway.cli sql" in notes.lines[0]


def test_ctrl_c_stops_a_query_with_one_line(tmp_path):
    store = Store(tmp_path / "data" / "upscway.duckdb")
    migrate(store)
    query = _sql(tmp_path)
    _holding(store, query)
    query.send_signal(signal.SIGINT)
    _, err = query.communicate(timeout=60)
    assert query.returncode == 130 and err.strip() == "error: interrupted (Ctrl-C): the query was stopped", err
