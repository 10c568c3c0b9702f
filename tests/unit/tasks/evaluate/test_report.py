"""The report shows the certificate honestly: what is certified (ε, on how many articles, by
which candidate), the offload interval stated apart from the guarantee, the chunk loss rate's
upper bound as a description of the sample (never as the risk's bound), and unguarded papers
named without being counted as failures."""

from pathlib import Path

from tests.support.certificates import certificate
from tests.support.models import model_record
from tests.unit.tasks.evaluate.test_gate import _result
from upscway.settings import GateSettings
from upscway.tasks.cascade.certificate import upper_bound
from upscway.tasks.cascade.evaluation import OnGold
from upscway.tasks.evaluate.gate import decide
from upscway.tasks.evaluate.report import Evaluated, md_table, write_report

NAMES = ["NOT_RELEVANT", "GS1", "GS2", "GS3", "GS4"]


def _with_teacher_confusion(result):
    return result.model_copy(
        update={"teacher": result.teacher.model_copy(update={"confusion": result.student.confusion})}
    )


def _report(result, decision, folder: Path) -> str:
    probs = [[0.6, 0.1, 0.1, 0.1, 0.1], [0.1, 0.6, 0.1, 0.1, 0.1]]
    evaluated = Evaluated(
        model=model_record(folder), teacher="t", split="eval", on_gold=OnGold(probs, probs, [0, 1]), result=result
    )
    files = write_report(folder, title="honest", evaluated=evaluated, names=NAMES, decision=decision)
    return files["markdown"].read_text(encoding="utf-8")


def _table_after(text: str, header_start: str) -> list[dict[str, str]]:
    """The markdown table whose header row starts with `header_start`, as dicts."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    head = [h.strip() for h in lines[at].strip("|").split("|")]
    rows = []
    for line in lines[at + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(head, (v.strip() for v in line.strip("|").split("|")))))
    return rows


def test_the_certificate_table_names_articles_and_candidate_and_labels_what_is_not_the_guarantee(tmp_path):
    result = _with_teacher_confusion(_result())
    decision = decide(result, GateSettings())
    report = _report(result, decision, tmp_path)
    assert "risk upper bound" not in report
    (row,) = _table_after(report, "| loss | articles |")
    c = result.cascade.certificate
    assert row["articles"] == "2000" and row["candidate"] == "1" and row["calibration chunks"] == "2000"
    assert row["chunk loss rate's upper bound (descriptive, after choosing)"] == f"{c.upper_bound:.3f}"
    low, high = c.offload_interval
    assert row["offload interval (separately stated; not part of the guarantee)"] == f"{low:.3f} – {high:.3f} (95.0%)"
    assert "article-level betting e-value" in report and "exact binomial" not in report
    gate = {r["criterion"]: r for r in _table_after(report, "| criterion |")}
    offload = gate[f"certified_offload_lower_bound_at_{c.threshold:g}"]
    assert offload["value"] == f"{low:.3f}" and "(separately stated; not part of the guarantee)" in offload["interval"]
    assert (tmp_path / "cascade_curve.png").exists()


def test_unguarded_papers_are_named_and_not_listed_as_failures(tmp_path):
    cert = certificate()
    cert["per_paper"]["3"] = {"n": 12, "losses": 0, "upper_bound": upper_bound(0, 12, 0.05)}
    cert["per_paper"]["1"] = {"n": 500, "losses": 80, "upper_bound": upper_bound(80, 500, 0.05)}  # 0.19
    result = _with_teacher_confusion(_result(cert=cert))
    decision = decide(result, GateSettings())
    assert decision.verdict == "reject"
    report = _report(result, decision, tmp_path)
    verdict = report.splitlines()[4]
    failed = verdict.split("Failed: ")[1].split(". ")[0]
    assert failed.startswith("GS1_loss_upper_bound = ") and "GS3" not in failed
    assert "GS3: 12 calibration chunks, the guard needs 20 to bound its loss at 0.15: unguarded" in verdict
    papers = {r["paper"]: r for r in _table_after(report, "| paper |")}
    assert papers["GS3"]["guard"].startswith("unguarded") and papers["GS1"]["guard"] == "regression"
    assert papers["GS2"]["guard"] == "pass"


def test_md_table_keeps_the_columns_in_order():
    assert md_table([{"a": 1, "b": 2}]) == "| a | b |\n|---|---|\n| 1 | 2 |"
