"""Evaluations stored by an earlier version read back into today's records: the gate decides
on them and the report renders. `stored_2026-12-01.json` is a row `make demo` stored before the
records were typed (its column values, as JSON); the older variant has no cascade and no
non-inferiority bound, as rows stored before the cascade was evaluated."""

import json
from pathlib import Path

from upscway.results import PairedResult, Verdict
from upscway.settings import GateSettings
from upscway.storage.models import ModelRecord
from upscway.tasks.evaluate.gate import decide
from upscway.tasks.evaluate.report import write_report
from upscway.tasks.promotion import latest_evaluation

ROW = json.loads((Path(__file__).parents[3] / "support" / "evaluations" / "stored_2026-12-01.json").read_text())
NAMES = ["NOT_RELEVANT", "GS1", "GS2", "GS3", "GS4"]
MODEL = ModelRecord(id=ROW["model_id"], chain="demo", stage="minilm-l1", kind="encoder", base_model="all-MiniLM-L6-v2", path="/nowhere",
                    teacher=ROW["teacher"], task="upsc_gs", prompt_version="v", config={}, metrics={}, status="candidate", alias=None,
                    created_at=None)


def _store_raw(store, row: dict) -> None:
    """The row as the columns hold it, written with plain SQL (not through today's records)."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO evaluations (id, model_id, teacher, gold_split, n, metrics, teacher_metrics, paired, cascade, flow_run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'r')",
            [row["id"], row["model_id"], row["teacher"], row["gold_split"], row["n"], json.dumps(row["metrics"]),
             json.dumps(row["teacher_metrics"]), json.dumps(row["paired"]), None if row["cascade"] is None else json.dumps(row["cascade"])],
        )


def _report(result: PairedResult, tmp_path: Path, decision) -> str:
    probs = [[0.6, 0.1, 0.1, 0.1, 0.1], [0.1, 0.6, 0.1, 0.1, 0.1]]
    files = write_report(tmp_path, title="old row", model=MODEL, teacher=ROW["teacher"], names=NAMES, result=result,
                         student_probs=probs, teacher_probs=probs, gold=[0, 1], decision=decision)
    return files["markdown"].read_text(encoding="utf-8")


def test_a_row_stored_before_the_records_were_typed_decides_and_renders_as_it_did(store, tmp_path):
    _store_raw(store, ROW)
    stored = latest_evaluation(store, ROW["model_id"])
    assert isinstance(stored.result, PairedResult) and stored.result.paired.n == 125
    assert stored.result.chosen.threshold == 0.35 and len(stored.result.cascade.curve) == 22
    decision = decide(stored.result, GateSettings())
    assert decision.verdict is Verdict.PROMOTE
    report = _report(stored.result, tmp_path, decision)
    # The verdict sentence the report of that run opened with, word for word.
    assert ("on 125 gold chunks the student alone has accuracy 0.808 against 0.744 for the teacher (student − teacher at least "
            "-0.016 at 95% confidence); the cascade at threshold 0.35 lets the student decide 98% of the chunks at accuracy 0.800 "
            "(cascade − teacher at least -0.024 at 95% confidence). Every criterion passes.") in report
    assert "| cascade, chosen threshold | 0.35 | 0.800 | 0.984 |" in report and (tmp_path / "cascade_curve.png").exists()


def test_a_row_from_before_the_cascade_was_evaluated_still_renders(store, tmp_path):
    paired = {k: v for k, v in ROW["paired"].items() if k != "noninferiority"}
    _store_raw(store, {**ROW, "id": "older", "paired": paired, "cascade": None})
    stored = latest_evaluation(store, ROW["model_id"])
    assert stored.result.cascade is None and stored.result.paired.noninferiority.lower_bound is None
    decision = decide(stored.result, GateSettings())
    assert decision.verdict is Verdict.REJECT  # no cascade: nothing certifies the offload
    assert {c.name for c in decision.criteria if not c.passed} == {"cascade_vs_teacher_lower_bound_0.95", "cascade_offload"}
    report = _report(stored.result, tmp_path, decision)
    assert "**Reject: keep the teacher.**" in report and "The cascade as deployed" not in report
