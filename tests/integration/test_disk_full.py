"""The data directory on a small file system of its own (a tmpfs, mounted for the test): a run
that meets a full disk stops at once with one line naming the device and path, its run marked
failed; once space is back the next run stores everything exactly once. A read-only file
system and a folder that cannot be created are one line each too. Needs root (to mount);
skipped elsewhere."""

import shutil
import subprocess
import sys
import uuid

import pytest

from tests.integration.conftest import child_env
from upscway.flows.context import open_store
from upscway.settings import load_settings
from upscway.storage.store import Store


@pytest.fixture
def small_fs(tmp_path):
    mount = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _cli(data, *args):
    env = {**child_env(), "UPSCWAY_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "upscway.cli", *args], env=env, capture_output=True, text=True, timeout=600
    )


def _rows(data, query):
    with Store(data / "upscway.duckdb").reader() as conn:
        return conn.execute(query).fetchall()


def _no_noise(stderr: str) -> None:
    assert "Traceback" not in stderr and "nanobind" not in stderr and "cannot rollback" not in stderr


def test_a_full_disk_stops_the_run_with_one_line_and_nothing_is_lost_when_space_is_back(small_fs):
    data = small_fs / "data"
    open_store(load_settings(data_dir=data))  # the store itself fits; the night's pages will not
    filler = small_fs / "filler"
    with open(filler, "wb") as out:
        out.truncate(0)
        out.write(b"\0" * (shutil.disk_usage(small_fs).free - 200_000))

    full = _cli(data, "run", "ingest")
    assert full.returncode == 2, full.stdout + full.stderr
    _no_noise(full.stderr)
    assert (
        f"error: no space left on the device holding {data}" in full.stderr and f"mounted at {small_fs}" in full.stderr
    )
    assert _rows(data, "SELECT status FROM flow_runs") == [("failed",)]

    filler.unlink()
    again = _cli(data, "run", "ingest")
    assert again.returncode == 0, again.stderr
    assert _rows(
        data, "SELECT count(*), count(DISTINCT canonical_url), count(DISTINCT content_hash) FROM articles"
    ) == [(17, 17, 17)]
    assert _rows(data, "SELECT count(*) FROM frontier WHERE state NOT IN ('stored', 'alias')") == [(0,)]
    assert _rows(data, "SELECT count(*) = count(DISTINCT (article_id, ordinal)) FROM chunks") == [(True,)]


def test_a_read_only_or_uncreatable_data_directory_is_one_line(small_fs):
    data = small_fs / "data"
    open_store(load_settings(data_dir=data))
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    read_only = _cli(data, "run", "ingest")
    assert read_only.returncode == 2 and f"error: the data directory {data} cannot be written" in read_only.stderr
    assert "Read-only file system" in read_only.stderr
    _no_noise(read_only.stderr)
    missing = _cli(small_fs / "new" / "data", "run", "ingest")
    assert missing.returncode == 2 and "cannot be created (Read-only file system)" in missing.stderr
    _no_noise(missing.stderr)
