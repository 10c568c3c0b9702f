"""The evaluation report a team would circulate: `report.md`, `report.html` and PNG plots in
`data/reports/<evaluation id>/`. Teacher and candidate side by side on the same gold chunks:
key findings with deltas and intervals, confusion matrices, per-paper accuracy, speed and size,
the cascade's certificate first, and the gate verdict with every criterion."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from markdown_it import MarkdownIt

from upscway.plots import pyplot
from upscway.results import CascadeEvaluation, Criterion, Decision, PairedResult, Verdict
from upscway.storage.models import ModelRecord
from upscway.tasks.cascade.evaluation import OnGold
from upscway.tasks.evaluate.gate import UNGUARDED

# How the certificate's figures that are not its guarantee are labelled wherever they are shown.
DESCRIPTIVE_BOUND = "chunk loss rate's upper bound (descriptive, after choosing)"
OFFLOAD_NOTE = "separately stated; not part of the guarantee"

KEY_METRICS = [
    ("accuracy", "Accuracy (5 labels)"),
    ("relevance_accuracy", "Relevance accuracy"),
    ("precision", "Relevance precision"),
    ("recall", "Relevance recall"),
    ("f1", "Relevance F1"),
    ("gs_accuracy", "GS-paper accuracy (gold-relevant)"),
    ("ece", "Expected calibration error"),
    ("mean_confidence", "Mean confidence"),
    ("mean_confidence_wrong", "Mean confidence when wrong"),
]


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def key_findings(result: PairedResult) -> list[dict]:
    """Rows: metric, teacher, student, delta (student − teacher), 95% interval where computed."""
    s, t, p = result.student, result.teacher, result.paired
    rows = []
    for key, label in KEY_METRICS:
        delta = None if s.get(key) is None or t.get(key) is None else s.get(key) - t.get(key)
        interval = p.ci95.get(key)
        rows.append(
            {
                "metric": label,
                "teacher": _fmt(t.get(key)),
                "student": _fmt(s.get(key)),
                "delta": _fmt(delta),
                "student_95ci": f"[{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "",
            }
        )
    if s.temperature:
        rows.append(
            {
                "metric": f"Expected calibration error before temperature scaling (T = {s.temperature:.2f})",
                "teacher": "",
                "student": _fmt(s.ece_before_scaling),
                "delta": "",
                "student_95ci": "",
            }
        )
    gap = p.ci95.get("accuracy_gap")
    rows.append(
        {
            "metric": "Top-1 agreement with the teacher",
            "teacher": "",
            "student": _fmt(p.agreement_top1),
            "delta": "",
            "student_95ci": "",
        }
    )
    rows.append(
        {
            "metric": "Accuracy gap (teacher − student)",
            "teacher": "",
            "student": _fmt(p.accuracy_gap),
            "delta": "",
            "student_95ci": f"[{gap[0]:.3f}, {gap[1]:.3f}]" if gap else "",
        }
    )
    return rows


def _heatmap(matrix, labels, title, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.2))
    im = ax.imshow(np.asarray(matrix), cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    values = np.asarray(matrix)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > values.max() / 2 else "black")
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _reliability(probs, gold, title, path: Path, bins: int = 10) -> None:
    p = np.asarray(probs, dtype=float)
    confidence, correct = p.max(axis=1), p.argmax(axis=1) == np.asarray(gold)
    edges = np.linspace(0, 1, bins + 1)
    centers, accuracy = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (confidence > lo) & (confidence <= hi)
        if mask.any():
            centers.append(confidence[mask].mean())
            accuracy.append(correct[mask].mean())
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(centers, accuracy, marker="o", label="observed")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _per_paper(result: PairedResult, names: Sequence[str], path: Path) -> None:
    """Teacher, student and (when chosen) cascade accuracy per paper, with the gold count under
    each paper and the legend above the bars, clear of them."""
    papers = result.paired.papers(len(names))
    series = {"teacher": result.teacher.gs_accuracy_per_paper, "student": result.student.gs_accuracy_per_paper}
    if result.chosen and result.chosen.gs_accuracy_per_paper:
        series["cascade"] = result.chosen.gs_accuracy_per_paper
    width = 0.8 / len(series)
    x = np.arange(len(papers))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for k, (name, values) in enumerate(series.items()):
        ax.bar(x + (k - (len(series) - 1) / 2) * width, [values.get(str(i)) or 0 for i in papers], width, label=name)
    counts = [sum(result.student.confusion[i]) for i in papers]
    ax.set_xticks(x, [f"{names[i]}\n(n = {n})" for i, n in zip(papers, counts)])
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy on the paper's gold chunks")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(series), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def verdict_sentence(decision: Decision | None, result: PairedResult, model_id: str) -> str:
    """The report's first lines: the certificate in one sentence, the verdict in plain words,
    why, and what to do next."""
    s, t = result.student.accuracy, result.teacher.accuracy
    bound, chosen = result.paired.noninferiority.lower_bound, result.chosen
    certificate = result.cascade.sentence() if result.cascade else "Not certified: this evaluation has no cascade."
    numbers = (
        f"on {result.paired.n} reported gold chunks the student alone has accuracy {_fmt(s)} against {_fmt(t)} for the teacher"
        + (f" (student − teacher at least {bound:+.3f} at 95% confidence, bootstrap)" if bound is not None else "")
        + (
            f"; the cascade at the certified threshold {chosen.threshold:g} lets the student decide {chosen.offload:.0%} of them at "
            f"accuracy {_fmt(chosen.accuracy)}"
            if chosen and result.cascade.certificate
            else ""
        )
    )
    if decision is None:
        return f"> {certificate}\n>\n> {numbers}."
    head = f"> **{certificate}**\n>\n"
    notes = [r for r in decision.reasons if r.endswith(UNGUARDED)]  # unguarded papers: named, failing nothing
    noted = "".join(f" {r[:1].upper()}{r[1:]} (not judged: it fails nothing)." for r in notes)
    if decision.verdict is Verdict.PROMOTE:
        return (
            f"{head}> **Promote.** The student can replace the teacher for the chunks it is sure of: {numbers}. Every criterion "
            f"passes.{noted}\n>\n> Next: `upscway run promote --model {model_id}` (the nightly flow does this itself)."
        )
    if decision.verdict is Verdict.INSUFFICIENT_DATA:
        return (
            f"{head}> **Not enough data to decide.** {numbers[:1].upper()}{numbers[1:]}. "
            + " ".join(f"{r[:1].upper()}{r[1:]}." for r in decision.reasons)
            + f"\n>\n> Next: get that data, then `upscway run evaluate --model {model_id}`."
        )
    return (
        f"{head}> **Reject: keep the teacher.** {numbers[:1].upper()}{numbers[1:]}. Failed: "
        + "; ".join(r for r in decision.reasons if r not in notes)
        + f".{noted}\n>\n> Next: more teacher labels (`upscway run annotate`) and another distillation (`upscway run distill`), "
        "or review the disagreements (`upscway gold export --strategy disagreement --n 50 --out review.csv`)."
    )


def _cascade_plot(cascade: CascadeEvaluation, teacher_accuracy: float, path: Path) -> None:
    """Left: the certificate's calibration sample described (at each threshold's offload, the
    share of chunks lost and that share's upper bound, both computed after the fact: not the
    guarantee), ε (what is certified) and the certified point. Right: the cascade's accuracy on
    the reported gold against its offload there, the certified point."""
    plt = pyplot()
    fig, (risk, accuracy) = plt.subplots(1, 2, figsize=(10, 3.9))
    for c in cascade.certificates:
        n = max(c.n, 1)
        offload = [t.decided / n for t in c.curve]
        (line,) = risk.plot(
            offload,
            [t.upper_bound for t in c.curve],
            marker=".",
            label=f"{c.loss} ({c.n} chunks): upper bound, descriptive",
        )
        risk.plot(
            offload,
            [t.losses / n for t in c.curve],
            linestyle=":",
            color=line.get_color(),
            label=f"{c.loss}: observed",
        )
        point = next((t for t in c.curve if t.threshold == c.threshold), None) if c.threshold is not None else None
        if point is not None:
            risk.scatter(
                [point.decided / n],
                [point.losses / n],
                color="red",
                zorder=3,
                label=f"{c.loss}: certified threshold {c.threshold:g}",
            )
    if cascade.certificate:
        risk.axhline(
            cascade.certificate.epsilon,
            color="grey",
            linestyle="--",
            label=f"ε = {cascade.certificate.epsilon:g}: the guarantee (per article)",
        )
    risk.set_xlabel("offload on the calibration sample (share of chunks)")
    risk.set_ylabel("share of the sample's chunks lost")
    risk.set_title(
        "the calibration sample, described (its upper bounds: after choosing, not the guarantee)", fontsize="x-small"
    )
    risk.set_xlim(-0.02, 1.02)
    risk.set_ylim(0, None)
    if cascade.certificates:
        risk.legend(loc="upper left", frameon=False, fontsize="x-small")
    else:
        risk.text(0.5, 0.5, "no calibration sample", ha="center", va="center", transform=risk.transAxes)
    curve = [p for p in cascade.curve if p.accuracy is not None]
    accuracy.plot([p.offload for p in curve], [p.accuracy for p in curve], marker=".", label="cascade")
    accuracy.axhline(teacher_accuracy, color="grey", linestyle="--", label="teacher alone")
    if cascade.chosen:
        accuracy.scatter(
            [cascade.chosen.offload],
            [cascade.chosen.accuracy],
            color="red",
            zorder=3,
            label=f"certified threshold {cascade.chosen.threshold:g}",
        )
    accuracy.set_xlabel("offload on the reported gold")
    accuracy.set_ylabel("accuracy on the reported gold")
    accuracy.set_xlim(-0.02, 1.02)
    accuracy.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _cascade_md(result: PairedResult) -> str:
    cascade = result.cascade
    if not cascade:
        return ""
    certificates = [
        {
            "loss": c.loss,
            "articles": c.articles or "–",
            "calibration chunks": c.n,
            "candidate": c.candidate,
            "ε": f"{c.epsilon:g}",
            "tested at δ (as spent)": f"{c.delta:.3g}",
            "certified threshold": "none" if c.threshold is None else f"{c.threshold:g}",
            "offload (per article)": "" if c.threshold is None else f"{c.offload:.3f}",
            f"offload interval ({OFFLOAD_NOTE})": ""
            if c.threshold is None
            else f"{c.offload_interval[0]:.3f} – {c.offload_interval[1]:.3f} ({1 - c.delta:.1%})",
            DESCRIPTIVE_BOUND: _fmt(c.upper_bound),
        }
        for c in cascade.certificates
    ]
    rows = [
        {"": "teacher alone", "threshold": "", "accuracy": _fmt(result.teacher.accuracy), "offload": "0.000"},
        {"": "student alone", "threshold": "", "accuracy": _fmt(result.student.accuracy), "offload": "1.000"},
    ]
    certified = (
        "certified threshold"
        if cascade.certificate is not None
        else "threshold chosen on gold (stored before certificates)"
    )
    for name, point in ((certified, cascade.chosen), ("configured threshold", cascade.configured)):
        if point:
            rows.append(
                {
                    "": f"cascade, {name}",
                    "threshold": f"{point.threshold:g}",
                    "accuracy": _fmt(point.accuracy),
                    "offload": _fmt(point.offload),
                }
            )
    how = (
        "The threshold is certified by Learn-then-Test: from the safest threshold to the most aggressive, each H0: risk ≥ ε is "
        "tested with an article-level betting e-value on the calibration sample (held-out teacher answers: consistency; gold "
        "sampled at random: accuracy loss), stopping at the first not rejected. The risk is the share of an article's chunks "
        "the cascade loses, averaged over articles; the e-value stays valid however often the growing sample is tested again. "
        "The j-th candidate tested at (ε, δ) spends δ·6/(π²j²), halved when both losses are tested: that is the δ below. "
        "Either loss bounds the accuracy the cascade loses against the teacher. The offload interval is stated separately "
        f"and is not part of the guarantee; the {DESCRIPTIVE_BOUND} is computed after the threshold was chosen and "
        "describes the sample: it is not the guarantee (ε is). The figures below are on the reported gold, which the "
        "certificate did not see."
    )
    table = md_table(certificates) if certificates else "No calibration sample: nothing could be certified."
    if cascade.calibrated_since:
        how += (
            f" The production cascade has been held by a fallback since {cascade.calibrated_since}: the held-out teacher "
            "answers are only those given since, so that this student is certified on the news that broke the last one."
        )
    return (
        f"## The cascade as deployed\n\n{cascade.sentence()}\n\n{how}\n\n{table}\n\n{md_table(rows)}\n\n"
        "![cascade curve](cascade_curve.png)\n\n"
    )


def _guard(guard: Criterion | None, certified: bool) -> str:
    """The per-paper guard's cell: judged (pass or regression), unguarded (too few calibration
    chunks: named in the gate's reasons), or not judged (nothing certified)."""
    if guard is not None:
        return "pass" if guard.passed else "regression"
    return (
        "unguarded (too few calibration chunks; see the gate's reasons)"
        if certified
        else "not judged (nothing certified)"
    )


def _interval(criterion: Criterion) -> str:
    """A criterion's interval cell; the offload's is labelled as what it is."""
    if criterion.interval is None:
        return ""
    low, high = criterion.interval
    note = f" ({OFFLOAD_NOTE})" if criterion.name.startswith("certified_offload") else ""
    return f"{_fmt(low)} – {_fmt(high)}{note}"


def md_table(rows: list[dict]) -> str:
    """A markdown table of `rows` (dicts with the same keys, in column order)."""
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def _confusion_md(matrix, names) -> str:
    rows = [{"gold \\ predicted": names[i], **{names[j]: v for j, v in enumerate(row)}} for i, row in enumerate(matrix)]
    return md_table(rows)


@dataclass(frozen=True)
class Evaluated:
    """An evaluation to store and report: the candidate's `models` row, the annotator it was
    compared with, the gold split, both models' probabilities on the reported gold with its
    labels (`on_gold`), and the result (the cascade's with it)."""

    model: ModelRecord
    teacher: str
    split: str
    on_gold: OnGold
    result: PairedResult


def write_report(
    folder: Path,
    *,
    title: str,
    evaluated: Evaluated,
    names: Sequence[str],
    decision: Decision | None,
) -> dict[str, Path]:
    """The report's files in `folder`: markdown, HTML and the plots; returns them by name."""
    model, teacher, result = evaluated.model, evaluated.teacher, evaluated.result
    student_probs, teacher_probs, gold = evaluated.on_gold.student, evaluated.on_gold.teacher, evaluated.on_gold.gold
    folder.mkdir(parents=True, exist_ok=True)
    plots = {
        "confusion_student": folder / "confusion_student.png",
        "confusion_teacher": folder / "confusion_teacher.png",
        "reliability_student": folder / "reliability_student.png",
        "reliability_teacher": folder / "reliability_teacher.png",
        "per_paper": folder / "per_paper_accuracy.png",
    }
    _heatmap(result.student.confusion, names, "Student", plots["confusion_student"])
    _heatmap(result.teacher.confusion, names, "Teacher", plots["confusion_teacher"])
    _reliability(student_probs, gold, "Student reliability", plots["reliability_student"])
    _reliability(teacher_probs, gold, "Teacher reliability", plots["reliability_teacher"])
    _per_paper(result, names, plots["per_paper"])
    if result.cascade:
        plots["cascade_curve"] = folder / "cascade_curve.png"
        _cascade_plot(result.cascade, result.teacher.accuracy, plots["cascade_curve"])

    s, p = result.student, result.paired
    guards = {c.name: c for c in decision.criteria} if decision is not None else {}
    certified = decision is not None and decision.certificate is not None and decision.certificate.threshold is not None
    deployed = result.chosen.gs_accuracy_per_paper if result.chosen else {}
    per_paper = []
    for i in p.papers(len(names)):
        theirs, own, routed = (
            r.get(str(i)) for r in (result.teacher.gs_accuracy_per_paper, s.gs_accuracy_per_paper, deployed)
        )
        guard = guards.get(f"{names[i]}_loss_upper_bound")
        per_paper.append(
            {
                "paper": names[i],
                "gold chunks": sum(s.confusion[i]),
                "teacher": _fmt(theirs),
                "student": _fmt(own),
                "cascade": _fmt(routed),
                "cascade − teacher": _fmt(None if routed is None or theirs is None else routed - theirs),
                "guard's loss upper bound": "–" if guard is None else _fmt(guard.value),
                "guard": _guard(guard, certified),
            }
        )
    speed = [
        {
            "latency ms/chunk": _fmt(s.latency_ms_per_chunk, 2),
            "chunks/s": _fmt(s.chunks_per_s, 1),
            "parameters": "–" if s.parameters is None else f"{s.parameters:,}",
            "size on disk (MB)": "–" if s.size_on_disk_mb is None else s.size_on_disk_mb,
        }
    ]
    verdict = ""
    if decision is not None:
        criteria = [
            {
                "criterion": c.name,
                "value": _fmt(c.value),
                "interval": _interval(c),
                "threshold": f"{c.comparison} {c.threshold:g}",
                "result": "pass" if c.passed else "FAIL",
            }
            for c in decision.criteria
        ]
        verdict = (
            f"## Gate: {decision.verdict}\n\n{md_table(criteria)}\n\n"
            + "".join(f"- {r}\n" for r in decision.reasons)
            + "\n"
        )
    mc = p.mcnemar
    md = (
        f"# {title}\n\n{verdict_sentence(decision, result, model.id)}\n\nCandidate `{model.id}` ({model.kind}, {model.base_model}, stage {model.stage}) against its teacher "
        f"`{teacher}` on the same **{p.n} gold chunks**.\n\n## Key findings\n\n{md_table(key_findings(result))}\n\n"
        f"McNemar's exact test on paired correctness: teacher right and student wrong on {mc.b}, the reverse on {mc.c}, "
        f"p = {mc.p_value:.3g}.\n\n{verdict}{_cascade_md(result)}## Accuracy per GS paper\n\n{md_table(per_paper)}\n\n![per paper](per_paper_accuracy.png)\n\n"
        f"## Confusion matrices (rows: gold)\n\n### Student\n\n{_confusion_md(s.confusion, names)}\n\n![student](confusion_student.png)\n\n"
        f"### Teacher\n\n{_confusion_md(result.teacher.confusion, names)}\n\n![teacher](confusion_teacher.png)\n\n"
        f"## Calibration\n\n![student reliability](reliability_student.png) ![teacher reliability](reliability_teacher.png)\n\n"
        f"## Speed and size (student)\n\n{md_table(speed)}\n"
    )
    (folder / "report.md").write_text(md, encoding="utf-8")
    (folder / "report.html").write_text(html_page(md, title), encoding="utf-8")
    return {"markdown": folder / "report.md", "html": folder / "report.html", **plots}


def artifact_markdown(report: dict[str, Path]) -> str:
    """The report for the Prefect UI: plots inlined as data URIs (the UI cannot reach files
    beside the report, so relative links would show as broken images), and where the files are."""
    folder = report["markdown"].parent

    def inline(match: re.Match) -> str:
        data = base64.b64encode((folder / match[2]).read_bytes()).decode("ascii")
        return f"![{match[1]}](data:image/png;base64,{data})"

    body = re.sub(r"!\[([^\]]*)\]\(([^)\s]+\.png)\)", inline, report["markdown"].read_text(encoding="utf-8"))
    return f"{body}\n---\n\nReport files: `{report['html'].resolve()}` (HTML), `{report['markdown'].resolve()}` (markdown, with the PNG plots beside it).\n"


_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_STYLE = (
    "body{font-family:sans-serif;max-width:62em;margin:2em auto;line-height:1.4}table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:.3em .6em}td.pass{background:#e6f4ea;color:#137333}td.fail{background:#fce8e6;color:#a50e0e}"
    "blockquote{margin:0;padding:.6em 1em;border-left:.3em solid #888;background:#f6f6f6}code{background:#f1f1f1;padding:0 .2em}"
)


def html_page(md: str, title: str) -> str:
    """The markdown rendered by markdown-it-py (CommonMark and tables), pass/fail cells coloured."""
    body = _MARKDOWN.render(md)
    body = re.sub(r"<td>(pass)</td>", r'<td class="pass">\1</td>', body)
    body = re.sub(r"<td>(FAIL|regression)</td>", r'<td class="fail">\1</td>', body)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
