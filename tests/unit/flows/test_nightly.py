"""The nightly summary artifact: a row per step with what it did or why it did not run."""

from upscway.flows.nightly import summary_markdown
from upscway.records import RunStatus
from upscway.summaries import FailedOutcome, SkippedOutcome, TagSummary


def test_the_summary_has_a_row_per_step_with_what_it_did_or_why_not():
    text = summary_markdown(
        {
            "ingest": FailedOutcome(error="InputError: feeds file x does not exist"),
            "tag": TagSummary(
                status=RunStatus.COMPLETED,
                chunks=12,
                tagged=12,
                offload_rate=0.75,
                production_model="m1",
                teacher_requests=3,
                teacher_requests_saved=9,
                estimated_cost_saved=0.0123,
            ),
            "distill": SkippedOutcome(reason="3 new teacher labels since chain demo last trained, fewer than 100"),
            "evaluate": SkippedOutcome(reason="no new student to evaluate: distill skipped"),
        }
    )
    lines = text.splitlines()
    assert "| ingest | failed | InputError: feeds file x does not exist |" in lines
    assert (
        "| tag | completed | 12 chunks tagged, 75% by the student (production model m1); 3 teacher requests made, "
        "9 saved (about 0.0123 in cost) |"
    ) in lines
    assert "| distill | skipped | 3 new teacher labels since chain demo last trained, fewer than 100 |" in lines
    assert "| evaluate | skipped | no new student to evaluate: distill skipped |" in lines
