"""Typed run summaries: stored with the keys (and in the order) the plain dicts had, read back
from rows an older or newer version stored."""

import json

from upscway.outcomes import describe, headline
from upscway.records import RunStatus
from upscway.summaries import (
    AnnotateSummary,
    FailedOutcome,
    FlowSummary,
    IngestSummary,
    NightlySummary,
    PagesSummary,
    SkippedOutcome,
    Summary,
    TagSummary,
    summary_of,
)


def _finished(summary: FlowSummary, failures: int = 0) -> FlowSummary:
    return summary.model_copy(update={"failures": failures, "run_id": "r1"})  # as `RunContext.finish` does


def test_a_summary_is_stored_with_the_keys_in_the_order_the_flow_gave_them_then_failures_and_run_id():
    ingest = _finished(IngestSummary(sources=2, feeds=3, new_urls=4, fetched=4, articles=3, chunks=9, duplicates=1))
    assert list(ingest.model_dump()) == [
        "sources",
        "feeds",
        "new_urls",
        "fetched",
        "articles",
        "chunks",
        "duplicates",
        "already_stored",
        "failures",
        "run_id",
    ]
    backfill = _finished(PagesSummary(new_urls=1, fetched=1))
    assert "not_urls" not in backfill.model_dump() and "sources" not in backfill.model_dump()
    listed = _finished(PagesSummary(new_urls=1, not_urls=0, fetched=1)).model_dump()
    assert list(listed)[:3] == ["new_urls", "not_urls", "fetched"] and listed["not_urls"] == 0
    annotate = _finished(
        AnnotateSummary(
            annotator="t",
            prompt_version="v1",
            to_annotate=2,
            annotated=2,
            failures=1,
            tokens_in=5,
            tokens_out=6,
            cost=0.5,
            labels={"none": 2},
        ),
        failures=3,
    )
    assert annotate.model_dump() == {
        "annotator": "t",
        "prompt_version": "v1",
        "to_annotate": 2,
        "annotated": 2,
        "failures": 3,
        "tokens_in": 5,
        "tokens_out": 6,
        "cost": 0.5,
        "labels": {"none": 2},
        "run_id": "r1",
    }
    assert list(annotate.model_dump()) == [
        "annotator",
        "prompt_version",
        "to_annotate",
        "annotated",
        "failures",
        "tokens_in",
        "tokens_out",
        "cost",
        "labels",
        "run_id",
    ]


def test_a_nightly_summary_stores_each_step_with_its_status_first_and_reads_back_typed():
    tag = TagSummary.model_validate(
        {
            "production_model": None,
            "chunks": 2,
            "tagged": 2,
            "by_teacher": 2,
            "fallback": {"new": True, "reason": "its folder is missing"},
        }
    )
    steps = {
        "tag": _finished(tag).model_copy(update={"status": RunStatus.COMPLETED}),
        "distill": SkippedOutcome(reason="too few labels"),
        "ingest": FailedOutcome(error="OSError: down"),
    }
    night = NightlySummary(run_id="n1", steps=steps, failed_items=0)
    stored = json.loads(json.dumps(night.model_dump(), default=str))
    assert list(stored) == ["run_id", "steps", "failed_items"]  # no report: no evaluation reported one
    assert list(stored["steps"]["tag"])[:2] == ["status", "production_model"] and stored["steps"]["tag"]["tagged"] == 2
    assert stored["steps"]["tag"]["fallback"] == {"new": True, "reason": "its folder is missing"}
    assert stored["steps"]["distill"] == {"status": "skipped", "reason": "too few labels"}
    assert stored["steps"]["ingest"] == {"status": "failed", "error": "OSError: down"}
    back = summary_of("nightly", stored)
    assert back == night and isinstance(back.steps["tag"], TagSummary) and back.steps["tag"].fallback.new


def test_an_older_or_newer_row_reads_back_with_its_unknown_keys_kept():
    newer = summary_of(
        "tag",
        {"production_model": "m", "chunks": 1, "tagged": 1, "future": 7, "drift": {"warning": None, "new_figure": 0.5}},
    )
    assert isinstance(newer, TagSummary) and newer.model_dump()["future"] == 7
    assert newer.drift.model_extra == {"new_figure": 0.5}
    older = summary_of("tag", {"tagged": 3, "offload_rate": 0.5})  # before chunks and production_model were recorded
    assert type(older) is FlowSummary and older.model_dump()["tagged"] == 3
    assert describe(older) == "tagged 3, offload_rate 0.5, failures 0, run_id –"
    crashed = summary_of("tag", {"status": "crashed", "error": "its process ended", "noticed_at": "2024-01-01"})
    assert type(crashed) is Summary
    assert describe(crashed) == "status crashed, error its process ended, noticed_at 2024-01-01"
    assert isinstance(summary_of("ingest", {"status": "failed", "error": "boom"}), FailedOutcome)
    assert type(summary_of("nightly", {"run_id": "n", "steps": {"x": {"status": "unknown"}}})) is Summary
    assert headline(summary_of("distill", {"status": "skipped", "reason": "busy"})) == "busy"
