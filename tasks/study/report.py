"""A study's report: `report.md` and `report.html` (rendered as the evaluation report is) with
PNG plots in `data/reports/study-<id>/`. Its first paragraph says which findings of the
reference reports our data reproduce and which not, with the intervals; then every arm's
figures as mean ± sd over seeds, each arm paired with the reference, the per-label F1, the
temperature and σ curves, and the accuracy-vs-latency Pareto front with its choices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from upscway.plots import pyplot
from upscway.storage.studies import ArmRow
from upscway.tasks.evaluate.report import html_page, md_table
from upscway.tasks.study.analysis import Difference, by_arm, difference, mean_sd, pareto_front, seed_difference, verdict
from upscway.tasks.study.spec import AXES, StudySpec

INTERVALS = (
    "Each interval is at 95%. *Over seeds*: a t interval of the per-seed differences in gold accuracy (seed s of both arms on the "
    "same chunks); it covers what retraining would show on these chunks, assuming normal differences. *Over chunks*: a BCa "
    "bootstrap interval of the mean per-chunk difference (each chunk's share of seeds right); it covers news like these gold "
    "chunks, treating chunks as independent (too narrow where chunks of one article agree). A claim is reproduced when both lie "
    "where the report says, contradicted when both lie on the other side, and not resolved otherwise."
)


def _ms(pair, digits: int = 3) -> str:
    mean, sd = pair
    if mean is None:
        return "–"
    return f"{mean:.{digits}f}" if sd is None else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _interval(i) -> str:
    return "–" if i is None else f"[{i[0]:+.3f}, {i[1]:+.3f}]"


def _curve(spec: StudySpec, groups: dict[str, list[ArmRow]], axis: str) -> list[tuple[float, list[ArmRow]]]:
    """The arms that differ from the reference arm on `axis` alone, by the axis's value."""
    reference = spec.select(spec.reference, "reference").settings.model_dump(mode="json")
    points = []
    for rows in groups.values():
        settings = rows[0].settings
        if all(settings[a] == reference[a] for a in AXES if a != axis):
            points.append((float(settings[axis]), rows))
    return sorted(points, key=lambda p: p[0]) if len(points) > 1 else []


def _curve_plot(points, axis_label: str, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    x = [p[0] for p in points]
    for figure, label in (("accuracy", "accuracy"), ("macro_f1", "macro F1")):
        stats = [mean_sd(rows)[figure] for _, rows in points]
        ax.errorbar(x, [s[0] for s in stats], yerr=[s[1] or 0 for s in stats], marker="o", capsize=3, label=label)
    ax.set_xlabel(axis_label)
    ax.set_ylabel("on gold (mean ± sd over seeds)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pareto_plot(summaries: dict, front: list[str], teacher_latency: float | None, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, s in summaries.items():
        (lat, lat_sd), (acc, acc_sd) = s["latency_ms_per_chunk"], s["accuracy"]
        ax.errorbar(
            lat, acc, xerr=lat_sd or 0, yerr=acc_sd or 0, marker="o", capsize=3, color="C1" if name in front else "C0"
        )
        ax.annotate(name, (lat, acc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.plot(
        [summaries[n]["latency_ms_per_chunk"][0] for n in front],
        [summaries[n]["accuracy"][0] for n in front],
        color="C1",
        lw=1,
    )
    if teacher_latency:
        ax.axvline(teacher_latency, color="grey", ls="--", lw=1, label="teacher latency")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms per chunk on this CPU (log)")
    ax.set_ylabel("gold accuracy (mean ± sd)")
    ax.set_title("Accuracy against latency (front in orange)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def first_paragraph(claims: list[dict]) -> str:
    """Which findings our data reproduce, contradict or cannot tell apart, with the intervals."""
    if not claims:
        return "This study tests no claim of a reference report; its figures follow."

    def said(c):
        return (
            f"{c['says']} ({c['source']}; Δ accuracy {c['estimate']:+.3f}, over seeds {_interval(c['over_seeds'])}, "
            f"over chunks {_interval(c['over_chunks'])})"
        )

    parts = []
    for outcome, lead in (
        ("reproduced", "Our data reproduce"),
        ("contradicted", "They contradict"),
        ("not resolved", "They cannot tell"),
    ):
        chosen = [said(c) for c in claims if c["verdict"] == outcome]
        if chosen:
            parts.append(f"{lead} {len(chosen)} of the {len(claims)} findings tested: " + "; ".join(chosen) + ".")
    return " ".join(parts)


def analyse(
    spec: StudySpec,
    rows: Sequence[ArmRow],
    gold: Sequence[int],
    teacher_chunks_per_s: float | None,
    teacher_predictions: Sequence[int],
    n_labels: int,
) -> dict:
    """The study's summary: per arm mean ± sd, pairs with the reference, claims, the front, and
    the teacher on the same gold."""
    groups = by_arm(rows)
    reference = spec.select(spec.reference, "reference").name
    summaries = {name: mean_sd(arm_rows) for name, arm_rows in groups.items()}
    paired: dict[str, Difference] = {
        name: difference(arm_rows, groups[reference], gold) for name, arm_rows in groups.items() if name != reference
    }
    paired_f1 = {
        name: seed_difference(arm_rows, groups[reference], "macro_f1")
        for name, arm_rows in groups.items()
        if name != reference
    }
    claims = []
    for claim in spec.claims:
        a, b = spec.select(claim.arm, "claim").name, spec.select(claim.against, "claim").name
        diff = difference(groups[a], groups[b], gold)
        claims.append(
            {
                "says": claim.says,
                "source": claim.source,
                "arm": a,
                "against": b,
                "expect": claim.expect,
                "margin": claim.margin,
                "estimate": diff.estimate,
                "over_seeds": diff.over_seeds,
                "over_chunks": diff.over_chunks,
                "verdict": verdict(diff, claim.expect, claim.margin),
            }
        )
    front = pareto_front({n: (s["latency_ms_per_chunk"][0], s["accuracy"][0]) for n, s in summaries.items()})
    return {
        "reference": reference,
        "arms": summaries,
        "paired": {
            n: {**vars(d), "macro_f1": paired_f1[n][0], "macro_f1_over_seeds": paired_f1[n][1]}
            for n, d in paired.items()
        },
        "claims": claims,
        "pareto_front": front,
        "teacher_chunks_per_s": teacher_chunks_per_s,
        "teacher_on_gold": {
            "accuracy": float(np.mean(np.asarray(teacher_predictions) == np.asarray(gold))),
            "macro_f1": float(
                f1_score(gold, teacher_predictions, labels=list(range(n_labels)), average="macro", zero_division=0)
            ),
        },
        "trained": sum(r.trained for r in rows),
        "reused": sum(not r.trained for r in rows),
        "seeds": max(len(r) for r in groups.values()),
    }


@dataclass(frozen=True)
class StudyHeading:
    """What a study report is about: which study, run on which spec (quick or full), against which teacher."""

    study_id: str
    spec: StudySpec
    quick: bool
    teacher: str


def write_study_report(
    folder: Path,
    heading: StudyHeading,
    rows: Sequence[ArmRow],
    gold: Sequence[int],
    labels: Sequence[str],
    analysis: dict,
) -> dict[str, Path]:
    study_id, spec, quick, teacher = heading.study_id, heading.spec, heading.quick, heading.teacher
    folder.mkdir(parents=True, exist_ok=True)
    groups, arms, ref = by_arm(rows), analysis["arms"], analysis["reference"]
    speed = analysis["teacher_chunks_per_s"]
    teacher_row = analysis["teacher_on_gold"]
    table = [
        {
            "arm": f"teacher `{teacher}`",
            "accuracy": f"{teacher_row['accuracy']:.3f}",
            "macro F1": f"{teacher_row['macro_f1']:.3f}",
            "agreement with teacher": "",
            "ECE": "",
            "chunks/s": "–" if not speed else f"{speed:.1f}",
            "speed-up vs teacher": "1×",
            "parameters": "",
            "size MB": "",
            "trained / reused": "",
        }
    ]
    for name, s in arms.items():
        trained = sum(r.trained for r in groups[name])
        table.append(
            {
                "arm": f"**{name}** (reference)" if name == ref else name,
                "accuracy": _ms(s["accuracy"]),
                "macro F1": _ms(s["macro_f1"]),
                "agreement with teacher": _ms(s["agreement"]),
                "ECE": _ms(s["ece"]),
                "chunks/s": _ms(s["chunks_per_s"], 1),
                "speed-up vs teacher": "–"
                if not speed or not s["chunks_per_s"][0]
                else f"{s['chunks_per_s'][0] / speed:.1f}×",
                "parameters": f"{s['parameters'][0]:,.0f}",
                "size MB": _ms(s["size_mb"], 1),
                "trained / reused": f"{trained} / {len(groups[name]) - trained}",
            }
        )
    per_label = [
        {
            "arm": name,
            **{
                label: f"{np.mean([r.metrics['f1_per_label'][i] for r in groups[name]]):.3f}"
                for i, label in enumerate(labels)
            },
        }
        for name in arms
    ]
    paired = [
        {
            "arm": name,
            "Δ accuracy vs reference": f"{d['estimate']:+.3f}",
            "over seeds": _interval(d["over_seeds"]),
            "over chunks": _interval(d["over_chunks"]),
            "Δ macro F1": "–" if d["macro_f1"] is None else f"{d['macro_f1']:+.3f}",
            "Δ macro F1 over seeds": _interval(d["macro_f1_over_seeds"]),
        }
        for name, d in analysis["paired"].items()
    ]
    claims = [
        {
            "finding": c["says"],
            "source": c["source"],
            "arms": f"{c['arm']} vs {c['against']}",
            "Δ accuracy": f"{c['estimate']:+.3f}",
            "over seeds": _interval(c["over_seeds"]),
            "over chunks": _interval(c["over_chunks"]),
            "verdict": c["verdict"],
        }
        for c in analysis["claims"]
    ]
    plots: dict[str, Path] = {"pareto": folder / "pareto.png"}
    _pareto_plot(arms, analysis["pareto_front"], 1000 / speed if speed else None, plots["pareto"])
    curves = ""
    for axis, label in (
        ("temperature", "KD temperature T"),
        ("noise_sigma", "teacher-logit noise σ"),
        ("alpha", "α (weight of the KD term)"),
    ):
        points = _curve(spec, groups, axis)
        if points:
            plots[axis] = folder / f"{axis}_curve.png"
            _curve_plot(points, label, plots[axis])
            curves += f"![{label}]({plots[axis].name})\n\n"
    front = analysis["pareto_front"]
    best = max(arms, key=lambda n: arms[n]["accuracy"][0])
    smallest = min(arms, key=lambda n: (arms[n]["size_mb"][0], -arms[n]["accuracy"][0]))
    choices = (
        f"- Most accurate: **{best}** ({_ms(arms[best]['accuracy'])}).\n"
        f'- Fastest on the accuracy-latency front ("fast"): **{front[0]}** ({_ms(arms[front[0]]["chunks_per_s"], 1)} chunks/s, '
        f"accuracy {_ms(arms[front[0]]['accuracy'])}).\n"
        f'- Smallest on disk ("compact"): **{smallest}** ({_ms(arms[smallest]["size_mb"], 1)} MB, accuracy {_ms(arms[smallest]["accuracy"])}).\n'
        f"- The front, fastest first: {', '.join(front)}.\n"
    )
    title = f"Study {spec.name}" + (" (quick budget)" if quick else "")
    budget = spec.budget
    md = (
        f"# {title}\n\n{first_paragraph(analysis['claims'])}\n\n"
        f"Study `{study_id}`: {len(arms)} arms × {budget.seeds} seeds ({budget.epochs:g} epochs"
        + (f", at most {budget.max_train_examples} training examples" if budget.max_train_examples else "")
        + f") on the same **{len(gold)} gold chunks** of the evaluation split, against teacher `{teacher}`; reference arm **{ref}**. "
        f"{analysis['trained']} trainings ran, {analysis['reused']} were reused from earlier studies. {spec.description}\n\n"
        + (f"## Findings of the reference reports\n\n{md_table(claims)}\n\n" if claims else "")
        + f"{INTERVALS}\n\n## Arms (mean ± sd over seeds)\n\n{md_table(table)}\n\n"
        f"Speed is measured on this CPU, scoring the gold chunks in batches of 32; the teacher's from its stored latencies"
        + (f" ({speed:.1f} chunks/s)" if speed else " (none stored)")
        + ".\n\n"
        + (f"## Paired with the reference arm\n\n{md_table(paired)}\n\n" if paired else "")
        + f"## F1 per label (mean over seeds)\n\n{md_table(per_label)}\n\n"
        + (f"## Curves\n\n{curves}" if curves else "")
        + f"## Accuracy against latency\n\n{choices}\n![pareto]({plots['pareto'].name})\n"
    )
    (folder / "report.md").write_text(md, encoding="utf-8")
    (folder / "report.html").write_text(html_page(md, title), encoding="utf-8")
    return {"markdown": folder / "report.md", "html": folder / "report.html", **plots}
