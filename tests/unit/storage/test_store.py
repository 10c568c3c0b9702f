"""The store under another process's lock: it waits and succeeds, or gives up with a clear error."""

import subprocess
import sys
import textwrap
import time

import pytest

from upscway.storage.store import Store, StoreBusyError


def _hold_lock(path, seconds):
    """Another process that opens the file for writing and keeps it for `seconds`."""
    script = textwrap.dedent(
        f"""
        import duckdb, sys, time
        conn = duckdb.connect({str(path)!r})
        conn.execute("INSERT INTO sources (name) VALUES ('held')")
        print("locked", flush=True)
        time.sleep({seconds})
        conn.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_writer_waits_for_another_process_then_commits(store):
    holder = _hold_lock(store.path, 1.5)
    started = time.monotonic()
    with store.transaction() as conn:
        conn.execute("INSERT INTO sources (name) VALUES ('mine')")
    waited = time.monotonic() - started
    holder.wait()

    assert waited > 0.5
    with store.reader() as conn:
        assert sorted(n for (n,) in conn.execute("SELECT name FROM sources").fetchall()) == ["held", "mine"]


def test_reader_waits_for_a_writer_process(store):
    holder = _hold_lock(store.path, 1.0)
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM sources").fetchone() == (1,)
    holder.wait()


def test_gives_up_after_the_timeout_with_a_clear_error(store):
    holder = _hold_lock(store.path, 3)
    impatient = Store(store.path, lock_timeout_s=0.3)
    with pytest.raises(StoreBusyError, match=rf"stayed locked by process {holder.pid} \(.*python.*\) for 0 s"):
        with impatient.transaction():
            pass
    holder.wait()


def test_failed_transaction_rolls_back(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO sources (name) VALUES ('lost')")
            raise RuntimeError("boom")
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM sources").fetchone() == (0,)


def test_reading_a_missing_store_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="upscway run ingest"):
        with Store(tmp_path / "none.duckdb").reader():
            pass
