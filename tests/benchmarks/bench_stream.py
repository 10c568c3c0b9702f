"""The certified cascade on a stream of news, night by night, through the real flows.

    python tests/benchmarks/bench_stream.py [--stream FILE.jsonl] [--per-night N] [--gold-per-night K]
                                            [--min-new-labels M] [--audit-rate A] [--calibration-rate C]
                                            [--out result.json] [--plot nights.png]

Each line of the stream is `{"text": ..., "label": ...}` (a label of the task definition; an
optional `"segment"` names the day or topic mix the line belongs to). Each night, the next N
lines become pages on the demo's feed URLs (a snapshot folder of their own, read by the real
`ingest`), and `upscway run nightly` runs on them: ingest, tag with the audit, retraining when
enough teacher answers arrived, evaluation with its certificate, the gate. After the night, K of
its lines drawn at random are imported as human gold with `sampling = random` (the only labels
the pipeline sees); all labels score the night: the cascade's final tags, and the teacher's own
answer on every chunk (asked here, out of the store).

Without `--stream` the stream is `deployments/demo/stream.jsonl` (`tools/demo_news.py`): the
news `make demo` reads, with 100 more lines like its first day before the shift, from a store
holding only the bundled gold. With
`--stream` the store first gets `make demo`'s first night, so the stream starts from the
student that night certifies. Prints one JSON object: per night `offload`, `cascade_accuracy`,
`teacher_accuracy`, `calibration_requests`, `audit_requests`, `teacher_requests_saved`,
`live_upper`, `detector`, `fallback`, `retrained`, `certified_threshold`; the stream's totals
(requests for calibration and audit, requests saved, `promotions_while_offloading`: a retrained
student certified and promoted on a night the student before it offloaded, with no fallback);
and `nights_to_detect_shift`, from the first night
with a line of a new segment (with `--stream`: any segment but the demo's `day-1`) to the first
fallback (None: no new segment, or none caught).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import DEMO_FIRST_NIGHT, ROOT, emit  # first: offline env, the project on sys.path

from tools.demo_news import FEEDS, Page, write  # noqa: E402
from upscway.settings import load_settings  # noqa: E402
from upscway.storage.store import Store  # noqa: E402
from upscway.tasks.annotate.teachers import make_teacher  # noqa: E402
from upscway.taxonomy import load_task  # noqa: E402

DEMO_STREAM = ROOT / "deployments" / "demo" / "stream.jsonl"
BROKEN_OFFLOAD, BROKEN_GAP = 0.10, 0.05  # a night "offloading on a broken certificate"
CLI = [sys.executable, "-m", "upscway.cli", "--profile", "demo"]


def read_stream(path: Path, labels: list[str]) -> list[dict]:
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(line, dict) or not str(line.get("text", "")).strip() or line.get("label") not in labels:
            raise SystemExit(f'{path}:{number}: needs a non-empty "text" and a "label" among {", ".join(labels)}')
        lines.append(line)
    if not lines:
        raise SystemExit(f"{path}: no lines")
    return lines


def night_pages(lines: list[dict], night: int) -> list[Page]:
    """The night's lines as pages on the demo's feeds, in turn (a title from the first line)."""
    sections = sorted(FEEDS)
    start = datetime(2027, 1, 1, 6, tzinfo=UTC) + timedelta(days=night)
    pages = []
    for i, line in enumerate(lines):
        parts = [p.strip() for p in line["text"].split("\n") if p.strip()]
        title = parts[0] if len(parts) > 1 else " ".join(parts[0].split()[:10])
        body = parts[1:] if len(parts) > 1 else parts
        section = sections[i % len(sections)]
        pages.append(
            Page(
                section,
                line["label"],
                f"{FEEDS[section][1]}stream-night-{night:03d}-{i:04d}",
                title,
                body,
                start - timedelta(minutes=i),
            )
        )
    return pages


def run(env: dict, *args: str) -> int:
    done = subprocess.run([*CLI, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode not in (0, 1):  # 1: a Fallback night, which is what this measures
        raise SystemExit(f"upscway {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.returncode


def night_chunks(store: Store, urls: list[str]) -> list[tuple[str, str, str, str | None]]:
    """(url, chunk id, text, final tag label) of the night's pages' chunks."""
    with store.reader() as conn:
        return conn.execute(
            "SELECT a.canonical_url, c.id, c.text, t.label FROM chunks c JOIN articles a ON a.id = c.article_id "
            "LEFT JOIN tags t ON t.chunk_id = c.id WHERE a.canonical_url IN (SELECT unnest(?)) ORDER BY c.id",
            [urls],
        ).fetchall()


def last_night(store: Store) -> dict:
    with store.reader() as conn:
        summary = conn.execute(
            "SELECT summary FROM flow_runs WHERE flow = 'nightly' ORDER BY started_at DESC LIMIT 1"
        ).fetchone()[0]
        threshold = conn.execute(
            "SELECT g.certified_threshold FROM gate_decisions g JOIN models m ON m.id = g.model_id WHERE m.alias = 'production' "
            "AND g.verdict = 'promote' ORDER BY g.created_at DESC LIMIT 1"
        ).fetchone()
    return {"steps": json.loads(summary)["steps"], "certified_threshold": threshold[0] if threshold else None}


def import_gold(env: dict, sheet: Path, rows: list[tuple[str, str, str]], probability: float) -> None:
    with sheet.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["chunk_id", "text", "gold_label", "sampling", "sampling_probability", "annotator", "note"])
        for chunk_id, text, label in rows:
            writer.writerow(
                [chunk_id, text, label, "random", f"{probability:.6g}", "stream-bench", "the stream's label"]
            )
    run(env, "gold", "import", str(sheet))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", type=Path, help="JSONL of {text, label}; default: the demo's two days")
    parser.add_argument("--per-night", type=int, default=100)
    parser.add_argument("--gold-per-night", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--min-new-labels",
        type=int,
        default=30,
        help="retrain after this many new teacher answers (the demo profile's 100 would retrain only on fallback "
        "nights of a 100-line night: 30 lets a student retrain while its predecessor offloads)",
    )
    parser.add_argument(
        "--audit-rate",
        type=float,
        default=0.5,
        help="cascade.audit_rate (production: 0.2, for nights of thousands of chunks): a night's offload stands "
        "only when its audit proves tonight's loss at most ε, and a night of ~100 chunks proves 0.10 only when "
        "about half the chunks its student decides are audited",
    )
    parser.add_argument(
        "--calibration-rate",
        type=float,
        default=0.3,
        help="cascade.calibration_rate (production: 0.05): a retrained student, the second candidate or later, "
        "needs ~100 calibration articles at its smaller level; at 0.3 a 100-line night draws about 30",
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plot", type=Path, help="PNG of offload and both accuracies over nights")
    args = parser.parse_args()
    if args.per_night < 1 or not 0 <= args.gold_per_night <= args.per_night:
        raise SystemExit("--per-night must be ≥ 1 and --gold-per-night between 0 and it")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        data_dir = Path(tmp) / "data"
        env = {
            **os.environ,
            "UPSCWAY_DATA_DIR": str(data_dir),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "UPSCWAY_DISTILL__MIN_NEW_TEACHER_LABELS": str(args.min_new_labels),
            "UPSCWAY_CASCADE__AUDIT_RATE": str(args.audit_rate),
            "UPSCWAY_CASCADE__CALIBRATION_RATE": str(args.calibration_rate),
        }
        settings = load_settings("demo", data_dir)
        task = load_task(settings.task.file)
        lines = read_stream(args.stream or DEMO_STREAM, task.names)
        gold, first_night = DEMO_FIRST_NIGHT
        run(env, *gold)
        if args.stream:
            run(env, *first_night)  # the student make demo's first night certifies
        store = Store(settings.database_path)
        teacher = make_teacher(task, settings.teacher)
        nights, scored = [], {"cascade": 0, "teacher": 0, "chunks": 0}
        # With --stream the student was certified on the demo's first day: news of any other segment is the shift.
        first_segment = "day-1" if args.stream else lines[0].get("segment")
        shift_night = fallback_night = None
        for night, begin in enumerate(range(0, len(lines), args.per_night), 1):
            batch = lines[begin : begin + args.per_night]
            if (
                shift_night is None
                and first_segment is not None
                and any(line.get("segment") != first_segment for line in batch)
            ):
                shift_night = night
            pages = night_pages(batch, night)
            snapshot = Path(tmp) / f"night-{night:03d}"
            write(snapshot, pages, keep_handwritten=False)
            rc = run({**env, "UPSCWAY_INGEST__SNAPSHOT_DIR": str(snapshot)}, "run", "nightly")
            outcome = last_night(store)
            steps = outcome["steps"]
            label_of = {p.url: p.label for p in pages}
            chunks = night_chunks(store, list(label_of))
            truth = [label_of[url] for url, *_ in chunks]
            teacher_says = [
                task.names[max(range(len(a.probs)), key=a.probs.__getitem__)]
                for a in teacher.annotate([c[2] for c in chunks])
            ]
            cascade_right = sum(t == label for (*_, t), label in zip(chunks, truth))
            teacher_right = sum(t == label for t, label in zip(teacher_says, truth))
            tag, audit = steps["tag"], steps["tag"].get("audit") or {}
            fallback = bool(tag.get("fallback"))
            if fallback and fallback_night is None and shift_night is not None:
                fallback_night = night
            nights.append(
                {
                    "night": night,
                    "lines": len(batch),
                    "chunks": len(chunks),
                    "segment": batch[-1].get("segment"),
                    "offload": tag.get("offload_rate"),
                    "cascade_accuracy": cascade_right / len(chunks),
                    "teacher_accuracy": teacher_right / len(chunks),
                    "calibration_requests": tag.get("calibration_requests", 0),
                    "audit_requests": audit.get("audit_requests", 0),
                    "teacher_requests_saved": tag.get("teacher_requests_saved", 0),
                    "live_upper": audit.get("live_upper"),
                    "detector": audit.get("detector"),
                    "production_model": tag.get("production_model"),
                    "fallback": fallback,
                    "state": "Fallback" if rc == 1 else "Completed",
                    "retrained": steps["distill"]["status"] == "completed",
                    "promoted": steps["promote"].get("production") not in (None, "unchanged"),
                    "certified_threshold": outcome["certified_threshold"],
                }
            )
            scored = {
                "cascade": scored["cascade"] + cascade_right,
                "teacher": scored["teacher"] + teacher_right,
                "chunks": scored["chunks"] + len(chunks),
            }
            print(json.dumps(nights[-1]), file=sys.stderr)
            if args.gold_per_night:
                drawn = {p.url for p in rng.sample(pages, k=min(args.gold_per_night, len(pages)))}
                rows = [(cid, text, label_of[url]) for url, cid, text, _ in chunks if url in drawn]
                import_gold(env, Path(tmp) / f"gold-{night:03d}.csv", rows, len(drawn) / len(pages))
        teacher.close()
    broken = [
        n["night"]
        for n in nights
        if (n["offload"] or 0) > BROKEN_OFFLOAD and n["cascade_accuracy"] < n["teacher_accuracy"] - BROKEN_GAP
    ]
    # a retrained student certified (on calibration draws) and promoted while the student before it
    # was offloading: that night's cascade offloaded and no fallback held it
    while_offloading = [
        n["night"] for n in nights if n["promoted"] and n["production_model"] and not n["fallback"] and n["offload"]
    ]
    result = {
        "stream": str(args.stream or DEMO_STREAM.relative_to(ROOT)),
        "per_night": args.per_night,
        "gold_per_night": args.gold_per_night,
        "max_loss": settings.cascade.max_loss,
        "nights": nights,
        "cascade_accuracy": scored["cascade"] / scored["chunks"],
        "teacher_accuracy": scored["teacher"] / scored["chunks"],
        "teacher_requests_saved": sum(n["teacher_requests_saved"] for n in nights),
        "calibration_requests": sum(n["calibration_requests"] for n in nights),
        "audit_requests": sum(n["audit_requests"] for n in nights),
        "promotions_while_offloading": len(while_offloading),
        "promotion_nights_while_offloading": while_offloading,
        "nights_offloading_on_broken_certificate": len(broken),
        "broken_nights": broken,
        "nights_to_detect_shift": None if fallback_night is None else fallback_night - shift_night,
        # nights a certified student tagged (one was in production when the night began) and no fallback held
        "offload_on_certified_nights": _mean(
            [n["offload"] for n in nights if n["production_model"] and not n["fallback"]]
        ),
    }
    if args.plot:
        plot(nights, args.plot)
    emit(result, args.out)


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def plot(nights: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [n["night"] for n in nights]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(x, [n["offload"] or 0 for n in nights], "o-", label="offload (student decides)")
    ax.plot(x, [n["cascade_accuracy"] for n in nights], "s-", label="cascade accuracy")
    ax.plot(x, [n["teacher_accuracy"] for n in nights], "^--", label="teacher accuracy")
    for n in nights:
        if n["fallback"]:
            ax.axvspan(n["night"] - 0.5, n["night"] + 0.5, color="tab:red", alpha=0.12)
    ax.set_xticks(x)
    ax.set_xlabel("night (shaded: fallback to the teacher)")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main()
