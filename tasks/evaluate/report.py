"""The evaluation report a team would circulate: `report.md`, `report.html` and PNG plots in
`data/reports/<evaluation id>/`. Teacher and candidate side by side on the same gold chunks:
key findings with deltas and intervals, confusion matrices, per-paper accuracy, speed and size,
and the gate verdict with every criterion."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from upscway.tasks.evaluate.gate import Decision  # noqa: E402

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


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def key_findings(result: dict) -> list[dict]:
    """Rows: metric, teacher, student, delta (student − teacher), 95% interval where computed."""
    s, t, ci = result["student"], result["teacher"], result["paired"]["ci95"]
    rows = []
    for key, label in KEY_METRICS:
        delta = None if s.get(key) is None or t.get(key) is None else s[key] - t[key]
        interval = ci.get(key)
        rows.append({"metric": label, "teacher": _fmt(t.get(key)), "student": _fmt(s.get(key)), "delta": _fmt(delta),
                     "student_95ci": f"[{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""})
    gap = ci.get("accuracy_gap")
    rows.append({"metric": "Top-1 agreement with the teacher", "teacher": "", "student": _fmt(result["paired"]["agreement_top1"]), "delta": "", "student_95ci": ""})
    rows.append({"metric": "Accuracy gap (teacher − student)", "teacher": "", "student": _fmt(result["paired"]["accuracy_gap"]), "delta": "",
                 "student_95ci": f"[{gap[0]:.3f}, {gap[1]:.3f}]" if gap else ""})
    return rows


def _heatmap(matrix, labels, title, path: Path) -> None:
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


def _per_paper(result: dict, names: Sequence[str], path: Path) -> None:
    papers = list(range(1, len(names)))
    t = [result["teacher"]["gs_accuracy_per_paper"].get(str(i)) or 0 for i in papers]
    s = [result["student"]["gs_accuracy_per_paper"].get(str(i)) or 0 for i in papers]
    x = np.arange(len(papers))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.bar(x - 0.2, t, 0.4, label="teacher")
    ax.bar(x + 0.2, s, 0.4, label="student")
    ax.set_xticks(x, [names[i] for i in papers])
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy on gold chunks of the paper")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _md_table(rows: list[dict]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def _confusion_md(matrix, names) -> str:
    rows = [{"gold \\ predicted": names[i], **{names[j]: v for j, v in enumerate(row)}} for i, row in enumerate(matrix)]
    return _md_table(rows)


def write_report(
    folder: Path, *, title: str, model, teacher: str, names: Sequence[str], result: dict,
    student_probs, teacher_probs, gold: Sequence[int], decision: Decision | None,
) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    plots = {
        "confusion_student": folder / "confusion_student.png", "confusion_teacher": folder / "confusion_teacher.png",
        "reliability_student": folder / "reliability_student.png", "reliability_teacher": folder / "reliability_teacher.png",
        "per_paper": folder / "per_paper_accuracy.png",
    }
    _heatmap(result["student"]["confusion"], names, "Student", plots["confusion_student"])
    _heatmap(result["teacher"]["confusion"], names, "Teacher", plots["confusion_teacher"])
    _reliability(student_probs, gold, "Student reliability", plots["reliability_student"])
    _reliability(teacher_probs, gold, "Teacher reliability", plots["reliability_teacher"])
    _per_paper(result, names, plots["per_paper"])

    s, p = result["student"], result["paired"]
    per_paper = [{"paper": names[i], "teacher": _fmt(result["teacher"]["gs_accuracy_per_paper"].get(str(i))),
                  "student": _fmt(s["gs_accuracy_per_paper"].get(str(i))), "gold chunks": sum(s["confusion"][i])} for i in range(1, len(names))]
    speed = [{"latency ms/chunk": f"{s['latency_ms_per_chunk']:.2f}", "chunks/s": f"{s['chunks_per_s']:.1f}",
              "parameters": f"{s['parameters']:,}", "size on disk (MB)": s["size_on_disk_mb"]}]
    verdict = ""
    if decision is not None:
        criteria = [{"criterion": c.name, "value": _fmt(c.value), "threshold": f"{c.comparison} {c.threshold}", "result": "pass" if c.passed else "FAIL"} for c in decision.criteria]
        verdict = f"## Gate verdict: **{decision.verdict}**\n\n{_md_table(criteria)}\n\n" + "".join(f"- {r}\n" for r in decision.reasons) + "\n"
    mc = p["mcnemar"]
    md = (
        f"# {title}\n\nCandidate `{model.id}` ({model.kind}, {model.base_model}, stage {model.stage}) against its teacher "
        f"`{teacher}` on the same **{p['n']} gold chunks**.\n\n## Key findings\n\n{_md_table(key_findings(result))}\n\n"
        f"McNemar's exact test on paired correctness: teacher right and student wrong on {mc['b']}, the reverse on {mc['c']}, "
        f"p = {mc['p_value']:.3g}.\n\n{verdict}## Accuracy per GS paper\n\n{_md_table(per_paper)}\n\n![per paper](per_paper_accuracy.png)\n\n"
        f"## Confusion matrices (rows: gold)\n\n### Student\n\n{_confusion_md(s['confusion'], names)}\n\n![student](confusion_student.png)\n\n"
        f"### Teacher\n\n{_confusion_md(result['teacher']['confusion'], names)}\n\n![teacher](confusion_teacher.png)\n\n"
        f"## Calibration\n\n![student reliability](reliability_student.png) ![teacher reliability](reliability_teacher.png)\n\n"
        f"## Speed and size (student)\n\n{_md_table(speed)}\n"
    )
    (folder / "report.md").write_text(md, encoding="utf-8")
    (folder / "report.html").write_text(_html(md), encoding="utf-8")
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


def _html(md: str) -> str:
    """The markdown above as plain HTML: headings, tables, images, paragraphs, lists."""
    out, table = [], []

    def flush() -> None:
        if table:
            cells = [[c.strip() for c in row.strip("|").split("|")] for row in table if not set(row.replace("|", "").strip()) <= {"-"}]
            out.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cells[0]) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells[1:]) + "</table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            for part in line.split(") "):
                src = part.split("(", 1)[1].rstrip(")")
                out.append(f'<img src="{html.escape(src)}" alt="">')
        elif line.startswith("- "):
            out.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{html.escape(line).replace('**', '')}</p>")
    flush()
    style = "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}"
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>UPSCWay evaluation</title><style>{style}</style></head><body>{''.join(out)}</body></html>"
