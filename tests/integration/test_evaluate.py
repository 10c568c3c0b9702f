"""The evaluate flow: a candidate and its teacher on the same gold chunks, its report and artifact."""

import json
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from tests.integration.conftest import rows
from upscway.tasks.distill.dataset import split_of


def test_evaluate_scores_candidate_and_teacher_on_the_same_gold_chunks(trained_store):
    from upscway.flows.evaluate import evaluate

    annotated_store, model_id = trained_store

    result = evaluate(model=model_id, return_state=True).result()

    eval_gold = [
        a
        for (a,) in rows(annotated_store, "SELECT c.article_id FROM gold_current g JOIN chunks c ON c.id = g.chunk_id")
    ]
    assert result.gold_chunks == sum(split_of(a) == "eval" for a in eval_gold) > 50
    ((n, metrics, teacher, paired),) = rows(
        annotated_store, "SELECT n, metrics, teacher_metrics, paired FROM evaluations"
    )
    metrics, teacher, paired = json.loads(metrics), json.loads(teacher), json.loads(paired)
    assert n == result.gold_chunks == paired["n"]
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= teacher["accuracy"] <= 1
    assert paired["accuracy_gap"] == pytest.approx(teacher["accuracy"] - metrics["accuracy"])
    assert sum(map(sum, metrics["confusion"])) == sum(map(sum, teacher["confusion"])) == n
    assert metrics["chunks_per_s"] > 0 and metrics["parameters"] > 1_000_000

    report = Path(result.report)
    text = report.read_text()
    assert text.splitlines()[2].startswith("> **")  # the verdict sentence comes first, under the title
    assert "## Key findings" in text and "| Relevance recall |" in text and "## Gate: " in text and "| guard |" in text
    page = (report.parent / "report.html").read_text()
    assert page.count("<table>") >= 4 and "**" not in page and model_id in page.split("</title>")[0]
    assert '<td class="pass">' in page or '<td class="fail">' in page
    for png in (
        "confusion_student",
        "confusion_teacher",
        "reliability_student",
        "reliability_teacher",
        "per_paper_accuracy",
        "cascade_curve",
    ):
        data = (report.parent / f"{png}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    # The UI's copy shows the plots inline (no link to a file it cannot reach) and says where the report is.
    with get_client(sync_client=True) as client:
        (artifact,) = [a for a in client.read_artifacts() if a.key == f"evaluation-{result.evaluation}"]
    assert artifact.data.count("](data:image/png;base64,iVBORw0KGgo") == 6 and ".png)" not in artifact.data
    assert str((report.parent / "report.html").resolve()) in artifact.data
