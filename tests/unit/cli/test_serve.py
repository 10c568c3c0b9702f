"""deployments/prefect.yaml read into served deployments, without a Prefect server."""

import pytest

from upscway.cli.serve import ScheduleSpec, load_deployments, load_flow
from upscway.errors import InputError
from upscway.flows.parameters import DistillStep, IngestStep, TagStep
from upscway.resources import DEPLOYMENTS_DIR


def test_the_project_deployments_load_with_their_schedules_and_valid_parameters():
    deployments = {d.name: d for d in load_deployments(DEPLOYMENTS_DIR / "prefect.yaml")}
    assert set(deployments) == {"nightly", "weekly-distillation", "backfill", "study"}
    (nightly,) = deployments["nightly"].schedules
    assert nightly.schedule.cron == "30 1 * * *" and nightly.schedule.timezone == "Asia/Kolkata"
    assert deployments["nightly"].concurrency_limit == 1
    weekly = deployments["weekly-distillation"].parameters
    assert not IngestStep(**weekly["ingest"]).enabled and not TagStep(**weekly["tag"]).enabled
    assert DistillStep(**weekly["distill"]).min_new_teacher_labels == 0
    assert (
        deployments["backfill"].schedules == [] and deployments["backfill"].parameters["what"]["since"] == "2026-11-01"
    )
    assert deployments["study"].schedules == [] and deployments["study"].parameters == {
        "spec": "deployments/studies/kd-grid.yaml",
        "quick": False,
    }
    assert deployments["nightly"].enforce_parameter_schema  # a bad parameter is refused before a run starts


@pytest.mark.parametrize(
    "entrypoint, message",
    [
        ("nightly.py:nightly", "expected flows/<module>.py:<flow>"),
        ("flows/nightly.py:nope", "no flow 'nope'"),
        ("flows/nosuch.py:nightly", "no flow 'nightly' in flows/nosuch.py"),
        ("flows/nightly.py:summary_markdown", "is not a flow"),
    ],
)
def test_bad_entrypoints_are_named(entrypoint, message):
    with pytest.raises(InputError, match=message):
        load_flow(entrypoint)


def test_a_deployments_file_with_errors_is_named(tmp_path):
    bad = tmp_path / "prefect.yaml"
    bad.write_text("deployments:\n  - entrypoint: flows/nightly.py:nightly\n")
    with pytest.raises(InputError, match=r"deployments file .*prefect.yaml is invalid: deployments.0.name"):
        load_deployments(bad)


def test_a_schedule_is_a_cron_or_an_interval_as_prefect_deploy_reads_them():
    interval = ScheduleSpec(interval=20).to_prefect()
    assert interval.interval.total_seconds() == 20 and interval.cron is None
    weekly = ScheduleSpec(cron="0 3 * * 0", timezone="Asia/Kolkata").to_prefect()
    assert (weekly.cron, weekly.timezone, weekly.interval) == ("0 3 * * 0", "Asia/Kolkata", None)
    with pytest.raises(ValueError, match="exactly one of cron or interval"):
        ScheduleSpec(cron="0 3 * * 0", interval=20)
    with pytest.raises(ValueError, match="exactly one of cron or interval"):
        ScheduleSpec()
