"""Evaluations stored by an earlier version read back into today's records: the gate decides
on them (never a promotion: they carry no certificate) and the report renders. `stored_2026-12-01.json` is a row `make demo` stored before the
records were typed (its column values, as JSON); the older variant has no cascade and no
non-inferiority bound, as rows stored before the cascade was evaluated."""

import json
from pathlib import Path

from upscway.results import PairedResult, Verdict
from upscway.settings import GateSettings
from upscway.storage.models import ModelRecord
from upscway.tasks.cascade.evaluation import OnGold
from upscway.tasks.evaluate.gate import decide
from upscway.tasks.evaluate.report import Evaluated, write_report
from upscway.tasks.promotion import latest_evaluation

ROW = json.loads((Path(__file__).parents[3] / "support" / "evaluations" / "stored_2026-12-01.json").read_text())
NAMES = ["NOT_RELEVANT", "GS1", "GS2", "GS3", "GS4"]
MODEL = ModelRecord(
    id=ROW["model_id"],
    chain="demo",
    stage="minilm-l1",
    kind="encoder",
    base_model="all-MiniLM-L6-v2",
    path="/nowhere",
    teacher=ROW["teacher"],
    task="upsc_gs",
    prompt_version="v",
    config={},
    metrics={},
    status="candidate",
    alias=None,
    created_at=None,
)


def _store_raw(store, row: dict) -> None:
    """The row as the columns hold it, written with plain SQL (not through today's records)."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO evaluations (id, model_id, teacher, gold_split, n, metrics, teacher_metrics, paired, cascade, flow_run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'r')",
            [
                row["id"],
                row["model_id"],
                row["teacher"],
                row["gold_split"],
                row["n"],
                json.dumps(row["metrics"]),
                json.dumps(row["teacher_metrics"]),
                json.dumps(row["paired"]),
                None if row["cascade"] is None else json.dumps(row["cascade"]),
            ],
        )


def _report(result: PairedResult, tmp_path: Path, decision) -> str:
    probs = [[0.6, 0.1, 0.1, 0.1, 0.1], [0.1, 0.6, 0.1, 0.1, 0.1]]
    evaluated = Evaluated(
        model=MODEL, teacher=ROW["teacher"], split="eval", on_gold=OnGold(probs, probs, [0, 1]), result=result
    )
    files = write_report(tmp_path, title="old row", evaluated=evaluated, names=NAMES, decision=decision)
    return files["markdown"].read_text(encoding="utf-8")


def test_a_row_stored_before_certificates_reads_back_and_never_promotes(store, tmp_path):
    """It promoted when it was stored (its threshold chosen and judged on the same gold); read
    today, it has no certificate, so the gate says so and what to do, and the report renders."""
    _store_raw(store, ROW)
    stored = latest_evaluation(store, ROW["model_id"])
    assert isinstance(stored.result, PairedResult) and stored.result.paired.n == 125
    assert stored.result.chosen.threshold == 0.35 and len(stored.result.cascade.curve) == 22
    assert stored.result.cascade.certificate is None
    decision = decide(stored.result, GateSettings())
    assert decision.verdict is Verdict.INSUFFICIENT_DATA and decision.reasons[0].startswith("no certificate")
    report = _report(stored.result, tmp_path, decision)
    assert (
        report.splitlines()[2]
        == "> **Not certified: this evaluation has no certificate (it was stored before certificates); evaluate again.**"
    )
    assert (
        "On 125 reported gold chunks the student alone has accuracy 0.808 against 0.744 for the teacher (student − teacher at "
        "least -0.016 at 95% confidence, bootstrap)."
    ) in report
    assert "| cascade, threshold chosen on gold (stored before certificates) | 0.35 | 0.800 | 0.984 |" in report
    assert (tmp_path / "cascade_curve.png").exists()


def test_a_row_from_before_the_cascade_was_evaluated_still_renders(store, tmp_path):
    paired = {k: v for k, v in ROW["paired"].items() if k != "noninferiority"}
    _store_raw(store, {**ROW, "id": "older", "paired": paired, "cascade": None})
    stored = latest_evaluation(store, ROW["model_id"])
    assert stored.result.cascade is None and stored.result.paired.noninferiority.lower_bound is None
    decision = decide(stored.result, GateSettings())
    assert (
        decision.verdict is Verdict.INSUFFICIENT_DATA and decision.certificate is None
    )  # nothing certifies the offload
    report = _report(stored.result, tmp_path, decision)
    assert "**Not enough data to decide.**" in report and "The cascade as deployed" not in report
