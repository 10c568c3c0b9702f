"""The tag flow: the production student decides what it is sure of, the teacher the rest."""

from tests.integration.conftest import rows
from upscway.flows.distill import distill


def test_tag_cascade_routes_by_confidence(annotated_store, monkeypatch):
    from upscway.flows.promote import promote
    from upscway.flows.tag import tag

    total = rows(annotated_store, "SELECT count(*) FROM chunks")[0][0]
    # No production model yet: the teacher decides everything (its answers are already stored).
    first = tag(limit=20, return_state=True).result()
    assert first["production_model"] is None and first["by_teacher"] == 20 and first["offload_rate"] == 0.0
    assert first["teacher_requests"] == 0  # the embedding teacher had answered them all: nothing sent twice

    model = distill(stage="minilm-l3", return_state=True).result()["stages"]["minilm-l3"]["model"]
    promote(model=model, force=True, reason="test the cascade", return_state=True).result()

    monkeypatch.setenv("UPSCWAY_CASCADE__CONFIDENCE_THRESHOLD", "0")
    monkeypatch.setenv("UPSCWAY_CASCADE__RELEVANCE_BAND", "[2, 3]")  # no relevance is uncertain
    confident = tag(limit=30, return_state=True).result()
    assert confident["production_model"] == model and confident["by_student"] == 30 and confident["offload_rate"] == 1.0
    assert confident["agreement_on_both_labelled"] is not None and confident["both_labelled"] == 30

    monkeypatch.setenv("UPSCWAY_CASCADE__CONFIDENCE_THRESHOLD", "1.01")
    rest = tag(return_state=True).result()
    assert rest["by_teacher"] == total - 50 and rest["by_student"] == 0
    assert rows(annotated_store, "SELECT count(*), count(DISTINCT chunk_id) FROM tags") == [(total, total)]
    assert tag(return_state=True).result()["chunks"] == 0
