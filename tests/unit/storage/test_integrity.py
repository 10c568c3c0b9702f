"""A store file cut short is refused at open, by readers and writers alike; whole files are not:
one whose last checkpoint gave its trailing blocks back, one a crash left with a WAL, one another
process is reading. The check never looks while another process writes the file."""

import os
import shutil
import struct
import subprocess
import sys
import textwrap

import pytest

from upscway.resources import DEPLOYMENTS_DIR
from upscway.storage import gold as gold_repo
from upscway.storage.integrity import BLOCKS_START, HEADER_SIZE, Busy, shortfall
from upscway.storage.migrations import migrate
from upscway.storage.store import Store, StoreError
from upscway.tasks.gold.sheets import read_csv


@pytest.fixture(scope="module")
def filled_template(tmp_path_factory):
    """A migrated store with the bundled gold imported: several blocks, checkpointed on close
    (built once; each test gets a copy)."""
    store = Store(tmp_path_factory.mktemp("filled") / "upscway.duckdb", lock_timeout_s=10)
    migrate(store)
    with store.transaction() as conn:
        gold_repo.import_rows(
            conn, read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv"), "upsc_gs", "gold.csv", lambda t: len(t.split())
        )
    assert os.path.getsize(store.path) > BLOCKS_START + 2**20
    return store.path


@pytest.fixture
def filled(filled_template, tmp_path):
    (tmp_path / "filled").mkdir()
    return Store(shutil.copy(filled_template, tmp_path / "filled" / "upscway.duckdb"), lock_timeout_s=10)


def _copy_cut(store, tmp_path, cut):
    damaged = tmp_path / "damaged" / "upscway.duckdb"
    damaged.parent.mkdir()
    shutil.copy(store.path, damaged)
    os.truncate(damaged, os.path.getsize(damaged) - cut)
    return Store(damaged, lock_timeout_s=10)


@pytest.mark.parametrize("cut", [4096, 65536, 2**20], ids=["4KB", "64KB", "1MB"])
def test_a_store_cut_short_is_refused_by_readers_and_writers_naming_the_file(filled, tmp_path, cut):
    assert shortfall(filled.path) is None
    damaged = _copy_cut(filled, tmp_path, cut)

    for opening in (damaged.reader, lambda: damaged.reader(sandboxed=True), damaged.transaction):
        with pytest.raises(StoreError) as refused:
            with opening() as conn:
                conn.execute("SELECT count(*) FROM gold_labels").fetchall()
        message = str(refused.value)
        assert f"the store {damaged.path} is damaged" in message and "restore it from a backup" in message
        assert "\n" not in message


def test_a_store_whose_checkpoint_gave_back_its_trailing_blocks_is_whole(filled):
    with filled.transaction() as conn:
        conn.execute("CREATE TABLE filler AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(300000)")
    with filled.transaction() as conn:
        conn.execute("DROP TABLE filler")
    with filled.transaction() as conn:
        conn.execute("CHECKPOINT")

    with open(filled.path, "rb") as f:  # the current header still counts the blocks the file no longer has
        headers = []
        for at in (HEADER_SIZE, 2 * HEADER_SIZE):
            f.seek(at + 8)
            headers.append(struct.unpack("<5Q", f.read(40)))
    _, _, _, block_count, alloc = max(headers)
    assert BLOCKS_START + block_count * alloc > os.path.getsize(filled.path)

    assert shortfall(filled.path) is None
    with filled.reader() as conn:
        assert conn.execute("SELECT count(*) FROM gold_labels").fetchone()[0] > 0


def test_a_wal_left_by_a_crash_is_not_damage(filled):
    crash = textwrap.dedent(f"""
        import duckdb, os
        conn = duckdb.connect({str(filled.path)!r})
        conn.execute("SET checkpoint_threshold = '1GB'")
        conn.execute("PRAGMA disable_checkpoint_on_shutdown")
        conn.execute("CREATE TABLE after_crash AS SELECT range AS i FROM range(100000)")
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", crash], check=True, timeout=120)
    assert os.path.exists(f"{filled.path}.wal")

    with filled.reader() as conn:
        assert conn.execute("SELECT count(*) FROM after_crash").fetchone() == (100000,)
    with filled.transaction() as conn:
        conn.execute("INSERT INTO after_crash VALUES (-1)")
    with filled.reader() as conn:
        assert conn.execute("SELECT count(*) FROM after_crash").fetchone() == (100001,)


def test_the_check_waits_out_a_writer_in_another_process_but_not_a_reader(filled):
    """While another process writes, the layout may be mid-checkpoint: the check does not look
    (the open waits, as for DuckDB's lock); beside a reader it looks."""

    def hold(read_only):
        script = textwrap.dedent(f"""
            import duckdb, sys
            conn = duckdb.connect({str(filled.path)!r}, read_only={read_only})
            print("holding", flush=True)
            sys.stdin.readline()
        """)
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "holding"
        return proc

    writer = hold(read_only=False)
    try:
        with pytest.raises(Busy):
            shortfall(filled.path)
    finally:
        writer.communicate("\n", timeout=60)
    reader = hold(read_only=True)
    try:
        assert shortfall(filled.path) is None
        with filled.reader() as conn:
            assert conn.execute("SELECT count(*) FROM gold_labels").fetchone()[0] > 0
    finally:
        reader.communicate("\n", timeout=60)
