"""A run of a deployment (the Prefect UI's form, the API, a schedule) reads a file that a
parameter names only under the allowed roots: the data folder, deployments/ and
`inputs.allowed_roots`. Anything else is refused naming the parameter, before the run reads or
stores anything. (The CLI's own runs read any file their user names: tests/integration/test_cli.py.)"""

import re

import pytest

from upscway.errors import InputError
from upscway.flows.backfill import BackfillInput, backfill
from upscway.flows.ingest import ingest
from upscway.flows.study import study
from upscway.storage.store import Store


@pytest.fixture
def deployed(monkeypatch, tmp_path):
    """Flow runs that Prefect's runtime reports as runs of a deployment (its documented mock
    of `prefect.runtime.deployment.id`), on a data folder of their own."""
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _rows(home, query):
    with Store(home / "data" / "upscway.duckdb").reader() as conn:
        return conn.execute(query).fetchall()


def test_a_deployments_run_refuses_files_outside_the_allowed_roots_naming_the_parameter(deployed, monkeypatch):
    secrets = deployed / "home" / ".env"
    secrets.parent.mkdir()
    secrets.write_text("API_KEY=sk-live-0123456789\n")
    for flow, parameters, flag, value in (
        (backfill, {"what": BackfillInput(urls=str(secrets))}, "--urls", secrets),
        (backfill, {"what": BackfillInput(html_dir=str(secrets.parent))}, "--html-dir", secrets.parent),
        (ingest, {"feeds": str(secrets)}, "--feeds", secrets),
        (study, {"spec": str(secrets)}, "--spec", secrets),
    ):
        state = flow(**parameters, return_state=True)
        assert state.is_failed()
        with pytest.raises(
            InputError, match="^" + re.escape(f"{flag} {value}: a deployment's run reads files only under ")
        ):
            state.result()
    assert _rows(deployed, "SELECT count(*) FROM frontier") == [(0,)] and _rows(
        deployed, "SELECT count(*) FROM failures"
    ) == [(0,)]
    assert {status for (status,) in _rows(deployed, "SELECT status FROM flow_runs")} == {"failed"}

    # A folder the operator allows is read: here a list with no URL in it, so nothing to fetch.
    monkeypatch.setenv("UPSCWAY_INPUTS__ALLOWED_ROOTS", f'["{secrets.parent}"]')
    allowed = backfill(BackfillInput(urls=str(secrets)), return_state=True)
    assert allowed.is_completed() and allowed.result().not_urls == 1


def test_a_deployments_run_may_not_move_its_data_folder_to_widen_the_roots(deployed):
    """`data_dir` is a parameter too: pointed at the folder holding a secret, it would make that
    folder an allowed root and the store's home. The run is refused before it opens a store."""
    secrets = deployed / "home" / ".env"
    secrets.parent.mkdir()
    secrets.write_text("API_KEY=sk-live-0123456789\n")
    state = backfill(BackfillInput(urls=str(secrets)), data_dir=str(secrets.parent), return_state=True)
    assert state.is_failed()
    with pytest.raises(InputError, match="^data_dir .*: a deployment's run uses the data folder it was served with"):
        state.result()
    assert not (secrets.parent / "upscway.duckdb").exists()
    same = backfill(
        BackfillInput(urls=str(deployed / "data" / "none.txt")), data_dir=str(deployed / "data"), return_state=True
    )
    assert "a deployment's run uses the data folder" not in str(same.result(raise_on_failure=False))
