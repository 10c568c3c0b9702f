"""What a student could save on a stream, and what the certificate can prove of it with n articles.

    python tests/benchmarks/bench_ceiling.py --stream FILE.jsonl [--per-night N] [--max-loss E]
        [--delta D] [--teacher-error P] [--articles 250 1000 4000] [--draws R] [--seed S] [--out result.json]

No flow runs here: it measures the two limits under `bench_stream.py`'s net saved share. The
stream's labelled lines are the teacher's answers (a share `--teacher-error` replaced at random,
as `bench_stream.py --teacher recorded` does); each line's text is its headline and description.
Night k's student is the stream benchmark's best, a `head: probe` student (the frozen MiniLM's
sentence vector, a linear layer fitted by `probe_fit.fit_layer` with the default knobs), fitted
on every answer of nights 1..k−1 but a tenth held out, on which its temperature is fitted as the
distill flow does. On night k it reports:

- `accuracy`: agreement with the teacher's answers;
- `oracle_offload`: the largest share of the night a confidence threshold chosen in hindsight
  (on the night's own answers) could decide while losing at most ε of the night: what no
  certificate can beat with this student, and with nothing for audit or calibration;
- `certified_offload[n]`: the median, over `--draws` samples of n articles drawn at random from
  the night (one chunk each, with replacement: the night stands for the news it was drawn from),
  of the night's share decided at the threshold `certify` (the real certificate, first
  candidate's level δ) certifies on the sample; 0 where nothing is certified.

Totals are the means over nights 2.., the figures a nightly cascade of this student could at best
show before the audit's and the calibration draw's requests.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
from common import emit  # first: offline env, the project on sys.path
from transformers import AutoTokenizer  # noqa: E402

from upscway.settings import CascadeSettings, TrainingSettings  # noqa: E402
from upscway.tasks.annotate.embedding_teacher import packaged_minilm  # noqa: E402
from upscway.tasks.annotate.probe import probe_student  # noqa: E402
from upscway.tasks.cascade.certificate import Sample, certify  # noqa: E402
from upscway.tasks.cascade.policy import CascadePolicy  # noqa: E402
from upscway.tasks.distill.calibration import fit_temperature  # noqa: E402
from upscway.tasks.distill.dataset import Example  # noqa: E402
from upscway.tasks.distill.probe_fit import embed, fit_layer  # noqa: E402
from upscway.taxonomy import load_task  # noqa: E402


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """(text, label) of each line with a label: the headline and the description, or `text`."""
    out = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if raw.strip():
            try:
                line = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{number}: not JSON ({exc.msg})") from None
            if line.get("label"):
                out.append((f"{line.get('headline', '')} {line.get('text', '')}".strip(), line["label"]))
    if not out:
        raise SystemExit(f"{path}: no labelled lines")
    return out


def oracle_offload(probs: np.ndarray, teacher: np.ndarray, epsilon: float) -> float:
    """The largest share of chunks decidable, most confident first, with losses ≤ ε of all."""
    order = np.argsort(-probs.max(axis=1), kind="stable")
    losses = np.cumsum(probs.argmax(axis=1)[order] != teacher[order])
    within = np.flatnonzero(losses <= epsilon * len(teacher))
    return float((within.max() + 1) / len(teacher)) if len(within) else 0.0


def certified_offload(probs, teacher, n: int, args, cascade: CascadeSettings, not_relevant: int, rng) -> float:
    """The median night share decided at the threshold certified on n articles drawn from the night."""
    shares = []
    for _ in range(args.draws):
        rows = rng.integers(0, len(teacher), n)
        sample = Sample(student=probs[rows], reference=teacher[rows])
        cert = certify(sample, not_relevant, tuple(cascade.relevance_band), args.max_loss, args.delta)
        if cert.threshold is None:
            shares.append(0.0)
            continue
        shares.append(float(CascadePolicy.of(cascade, cert.threshold, not_relevant).decided(probs).mean()))
    return float(np.median(shares))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stream", type=Path, required=True, help="the shared stream's items.jsonl, or {text, label} lines"
    )
    parser.add_argument("--per-night", type=int, default=500)
    parser.add_argument("--max-loss", type=float, default=0.02)
    parser.add_argument("--delta", type=float, default=0.05)
    parser.add_argument("--teacher-error", type=float, default=0.0)
    parser.add_argument("--articles", type=int, nargs="+", default=[250, 1000, 4000])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.per_night < 1 or not 0 <= args.teacher_error < 1:
        raise SystemExit("--per-night must be ≥ 1 and --teacher-error in [0, 1)")

    task, knobs, cascade = load_task(), TrainingSettings(), CascadeSettings()
    names, not_relevant = task.names, task.names.index("NOT_RELEVANT")
    lines = read_labelled(args.stream)
    noise = random.Random(args.seed)
    teacher = np.array(
        [
            names.index(
                noise.choice([n for n in names if n != label]) if noise.random() < args.teacher_error else label
            )
            for _, label in lines
        ]
    )
    model = probe_student(str(packaged_minilm()), names)
    vectors = embed(model, AutoTokenizer.from_pretrained(str(packaged_minilm())), [t for t, _ in lines], 512)
    examples = [
        Example(str(i), str(i), "", tuple(0.0 if j == t else -18.0 for j in range(len(names))), -1)
        for i, t in enumerate(teacher.tolist())
    ]
    rng = np.random.default_rng(args.seed)
    nights = []
    for start in range(args.per_night, len(lines) - args.per_night + 1, args.per_night):
        fit_rows = [i for i in range(start) if i % 10]
        held = [i for i in range(start) if i % 10 == 0]
        layer = torch.nn.Linear(vectors.shape[1], len(names))
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
        fit_layer(layer, vectors[fit_rows], [examples[i] for i in fit_rows], knobs)
        with torch.no_grad():
            temperature = fit_temperature(layer(vectors[held]).numpy(), teacher[held])["temperature"]
            night = slice(start, start + args.per_night)
            probs = torch.softmax(layer(vectors[night]) / temperature, dim=-1).numpy()
        result = {
            "night": start // args.per_night + 1,
            "trained_on": len(fit_rows),
            "accuracy": round(float((probs.argmax(axis=1) == teacher[night]).mean()), 4),
            "oracle_offload": round(oracle_offload(probs, teacher[night], args.max_loss), 4),
            "certified_offload": {
                n: round(certified_offload(probs, teacher[night], n, args, cascade, not_relevant, rng), 4)
                for n in args.articles
            },
        }
        print(json.dumps(result), flush=True)
        nights.append(result)
    emit(
        {
            "stream": str(args.stream),
            "teacher_error": args.teacher_error,
            "max_loss": args.max_loss,
            "delta": args.delta,
            "nights": nights,
            "mean_accuracy": round(float(np.mean([r["accuracy"] for r in nights])), 4),
            "mean_oracle_offload": round(float(np.mean([r["oracle_offload"] for r in nights])), 4),
            "mean_certified_offload": {
                n: round(float(np.mean([r["certified_offload"][n] for r in nights])), 4) for n in args.articles
            },
        },
        args.out,
    )


if __name__ == "__main__":
    main()
