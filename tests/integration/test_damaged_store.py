"""A store file cut short (an interrupted copy or restore): every command refuses it at open with
one line naming the file and what to do, exit 2, instead of a traceback, or answers from what
is left of it."""

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import child_env

COMMANDS = {
    "status": ("status",),
    "sql": ("sql", "SELECT count(*) FROM chunks"),
    "gold export": ("gold", "export", "--out", "{data}/to-review.csv"),
    "run annotate": ("run", "annotate", "--limit", "2"),
    "run ingest": ("run", "ingest", "--limit", "1"),
}


# Every command at the smallest cut (where all of them used to exit 0); a reader and a query at
# the larger ones (readers and writers at every cut: unit/storage/test_integrity.py).
@pytest.mark.parametrize(
    ("cut", "commands"),
    [(4096, list(COMMANDS)), (65536, ["status", "sql"]), (2**20, ["status", "sql"])],
    ids=["4KB", "64KB", "1MB"],
)
def test_every_command_refuses_a_store_cut_short_in_one_line_naming_it(annotated_template, tmp_path, cut, commands):
    data = tmp_path / "data"
    shutil.copytree(annotated_template, data)
    database = data / "upscway.duckdb"
    os.truncate(database, os.path.getsize(database) - cut)
    env = {**child_env(), "PREFECT_API_URL": PREFECT_API_URL.value(), "UPSCWAY_DATA_DIR": str(data)}

    def run(args):
        command = [sys.executable, "-m", "upscway.cli", *(a.format(data=data) for a in args)]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        done = dict(zip(commands, pool.map(run, (COMMANDS[name] for name in commands))))

    for name, result in done.items():
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2, f"{name}: exit {result.returncode}\n{result.stderr[-2000:]}"
        assert len(errors) == 1 and "Traceback" not in result.stderr, f"{name}:\n{result.stderr[-2000:]}"
        assert f"the store {database} is damaged" in errors[0] and "restore it from a backup" in errors[0], (
            f"{name}: {errors[0]}"
        )
    assert not (data / "to-review.csv").exists()
