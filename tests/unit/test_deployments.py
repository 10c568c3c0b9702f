"""deployments/prefect.yaml read into served deployments, without a Prefect server; the nightly
summary; the concurrency-limit helpers outside a run."""

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from upscway.flows.nightly import summary_markdown
from upscway.flows.parameters import DistillStep, IngestStep, TagStep
from upscway.flows.serve import load_deployments, load_flow
from upscway.tasks.limits import teacher_slots, writer_slot

from upscway.errors import InputError
from upscway.resources import DEPLOYMENTS_DIR


def test_the_project_deployments_load_with_their_schedules_and_valid_parameters():
    deployments = {d.name: d for d in load_deployments(DEPLOYMENTS_DIR / "prefect.yaml")}
    assert set(deployments) == {"nightly", "weekly-distillation", "backfill"}
    (nightly,) = deployments["nightly"].schedules
    assert nightly.schedule.cron == "30 1 * * *" and nightly.schedule.timezone == "Asia/Kolkata"
    assert deployments["nightly"].concurrency_limit == 1
    weekly = deployments["weekly-distillation"].parameters
    assert not IngestStep(**weekly["ingest"]).enabled and not TagStep(**weekly["tag"]).enabled
    assert DistillStep(**weekly["distill"]).min_new_teacher_labels == 0
    assert deployments["backfill"].schedules == [] and deployments["backfill"].parameters["since"] == "2026-11-01"
    assert deployments["nightly"].enforce_parameter_schema  # a bad parameter is refused before a run starts


@pytest.mark.parametrize("entrypoint, message", [
    ("nightly.py:nightly", "expected flows/<module>.py:<flow>"),
    ("flows/nightly.py:nope", "no flow 'nope'"),
    ("flows/nosuch.py:nightly", "no flow 'nightly' in flows/nosuch.py"),
    ("flows/nightly.py:summary_markdown", "is not a flow"),
])
def test_bad_entrypoints_are_named(entrypoint, message):
    with pytest.raises(InputError, match=message):
        load_flow(entrypoint)


def test_a_deployments_file_with_errors_is_named(tmp_path):
    bad = tmp_path / "prefect.yaml"
    bad.write_text("deployments:\n  - entrypoint: flows/nightly.py:nightly\n")
    with pytest.raises(InputError, match=r"deployments file .*prefect.yaml is invalid: deployments.0.name"):
        load_deployments(bad)


def test_the_summary_has_a_row_per_step_with_what_it_did_or_why_not():
    text = summary_markdown({
        "ingest": {"status": "failed", "error": "InputError: feeds file x does not exist"},
        "tag": {"status": "completed", "chunks": 12, "tagged": 12, "offload_rate": 0.75, "production_model": "m1",
                "teacher_requests": 3, "teacher_requests_saved": 9, "estimated_cost_saved": 0.0123},
        "distill": {"status": "skipped", "reason": "3 new teacher labels since chain demo last trained, fewer than 100"},
        "evaluate": {"status": "skipped", "reason": "no new student to evaluate: distill skipped"},
    })
    lines = text.splitlines()
    assert "| ingest | failed | InputError: feeds file x does not exist |" in lines
    assert ("| tag | completed | 12 chunks tagged, 75% by the student (production model m1); 3 teacher requests made, "
            "9 saved (about 0.0123 in cost) |") in lines
    assert "| distill | skipped | 3 new teacher labels since chain demo last trained, fewer than 100 |" in lines
    assert "| evaluate | skipped | no new student to evaluate: distill skipped |" in lines


def test_limits_are_not_taken_outside_a_prefect_run():
    """Outside a run (a unit test, `gold import`) the slots never reach for the API: pointed at a
    port where nothing listens, taking them would fail with a connection error."""
    entered = []
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        with teacher_slots(8), writer_slot():
            entered.append(True)
    assert entered == [True]
