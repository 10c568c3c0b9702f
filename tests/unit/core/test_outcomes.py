"""A run's outcome in one sentence, as the terminal, the run log and the nightly table show it."""

from upscway.outcomes import describe, headline
from upscway.summaries import IngestSummary, TagSummary

TAG = TagSummary(
    chunks=40,
    tagged=40,
    offload_rate=0.75,
    production_model="demo-l1-x",
    teacher_requests=10,
    teacher_requests_saved=30,
    estimated_cost_saved=0.03,
    confidence_threshold=0.55,
    drift=None,
)


def _tag(**changes) -> TagSummary:
    """TAG with other figures, its nested parts given as they are stored."""
    return TagSummary.model_validate({**TAG.model_dump(), **changes})


def test_ingest_says_what_was_new_and_what_was_fetched():
    line = describe(IngestSummary(new_urls=3, fetched=5, articles=4, chunks=9, duplicates=0, failures=1))
    assert line == "3 new URLs, 5 fetched: 4 articles and 9 chunks stored, 0 duplicates, 1 failure"


def test_tag_names_the_threshold_and_warns_on_drift():
    quiet = describe(TAG)
    assert "75% by the student (production model demo-l1-x)" in quiet and "threshold 0.55" in quiet
    assert "WARNING" not in quiet
    drifted = _tag(drift={"warning": "the student's scores drifted: deferral rate 0.90 tonight vs 0.20 on validation"})
    assert describe(drifted).endswith(
        "WARNING: the student's scores drifted: deferral rate 0.90 tonight vs 0.20 on validation"
    )
    assert headline(drifted) == "40 tagged, 75% by the student, DRIFT"
    assert headline(TAG) == "40 tagged, 75% by the student"


def test_tag_counts_the_chunks_in_other_languages_and_says_where_they_went():
    routed = _tag(other_languages={"route": "teacher", "chunks": 3, "languages": {"hi": 2, "ta": 1}})
    assert "; 3 chunks in other languages (hi: 2, ta: 1) sent to the teacher" in describe(routed)
    assert headline(routed) == "40 tagged, 75% by the student, 3 in other languages"
    skipped = _tag(chunks=0, other_languages={"route": "skip", "chunks": 1, "languages": {"hi": 1}})
    assert describe(skipped) == "nothing new to tag; 1 chunk in other languages (hi: 1) skipped (left untagged)"


def test_a_withheld_night_is_tonights_alone_and_a_fallback_says_new_or_held():
    audit = {"decided": 11, "audited": 1, "live_estimate": 0.0, "live_upper": 0.533, "max_loss": 0.1}
    audit |= {"audit_requests": 1, "fallback": True}
    withheld = _tag(audit={**audit, "withheld": True}, fallback={"new": False, "reason": "not shown"})
    assert describe(withheld).endswith("WITHHELD: not shown")
    held = _tag(audit=audit, fallback={"new": False, "reason": "broken"})
    assert describe(held).endswith("FALLBACK (held): broken; the teacher decided every chunk")
    new = _tag(audit=audit, fallback={"new": True, "reason": "broken"})
    assert ". FALLBACK (new tonight): broken;" in describe(new)
    shifted = _tag(audit={**audit, "withheld": True, "shifted": True, "audit_rate": 0.5}, fallback=None)
    assert "; audit raised to 0.5 (the student's scores shifted): 1 of 11 decided chunks" in describe(shifted)
    assert "; audit: 1 of 11" in describe(held)
