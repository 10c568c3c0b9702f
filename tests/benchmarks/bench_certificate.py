"""What the cascade certificate (`tasks/certificate.py`) can certify on a store's own data.

    python tests/benchmarks/bench_certificate.py [--data-dir DIR] [--out result.json]

Without `--data-dir` it builds the demo's store first (the bundled gold, one night of the
bundled news with `--limit 10`, as `make demo`'s first night). On the store: the production
student (else the newest candidate) scores every chunk text the teacher it is judged against
has answered and that no model trained or validated on (the held-out silver); the reference
is the teacher's label. For ε ∈ {0.01, 0.02, 0.05} at δ = 0.05 it prints the threshold and
offload certified for consistency with the teacher on that sample, and how many held-out
teacher answers would certify 90% offload at ε = 0.02 at the loss rate seen there
(`samples_needed`). Gold sampled at random (what an accuracy certificate needs) is not recorded
by the store yet, so the accuracy side reports the rate on the evaluation gold and the sample it
would take, as an estimate. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, emit  # first: offline env, the project on sys.path

import numpy as np  # noqa: E402

from upscway.records import PRODUCTION  # noqa: E402
from upscway.settings import load_settings  # noqa: E402
from upscway.storage.store import Store  # noqa: E402
from upscway.tasks.annotate.taxonomy import load_task  # noqa: E402
from upscway.tasks.distill.scoring import student_scorer  # noqa: E402
from upscway.tasks.registry import model as registered  # noqa: E402
from upscway.tasks.certificate import SAFEST_FIRST, certify, risk_curve, samples_needed  # noqa: E402

EPSILONS, DELTA, TARGET_OFFLOAD, TARGET_EPSILON = (0.01, 0.02, 0.05), 0.05, 0.9, 0.02

HELD_OUT = """
SELECT a.text_hash, any_value(c.text), any_value(a.probs)
FROM annotations a JOIN chunks c ON c.text_hash = a.text_hash
WHERE a.annotator = ? AND a.prompt_version = ?
  AND a.text_hash NOT IN (SELECT c2.text_hash FROM training_examples t JOIN chunks c2 ON c2.id = t.chunk_id)
GROUP BY a.text_hash ORDER BY a.text_hash
"""


def build_demo(data_dir: Path) -> None:
    env = {**os.environ, "UPSCWAY_PROFILE": "demo", "UPSCWAY_DATA_DIR": str(data_dir)}
    cli = [sys.executable, "-m", "upscway.flows.cli"]
    for args in (["gold", "import", str(ROOT / "deployments" / "demo" / "gold.csv")], ["run", "nightly", "--limit", "10"]):
        subprocess.run([*cli, *args], env=env, check=True, stdout=subprocess.DEVNULL)


def the_student(store: Store):
    with store.reader() as conn:
        held = conn.execute("SELECT id FROM models WHERE alias = ?", [PRODUCTION]).fetchone()
        newest = conn.execute("SELECT id FROM models WHERE status = 'candidate' ORDER BY created_at DESC LIMIT 1").fetchone()
    chosen = held or newest
    if chosen is None:
        raise SystemExit("no trained student in this store: run `upscway run nightly` (or distill) first")
    return registered(store, chosen[0])


def root_teacher(store: Store, model) -> str:
    """The annotator the chain's first stage learnt from (what the cascade saves requests to)."""
    annotator = model.teacher
    with store.reader() as conn:
        while annotator.startswith("model:"):
            annotator = conn.execute("SELECT teacher FROM models WHERE id = ?", [annotator.split(":", 1)[1]]).fetchone()[0]
    return annotator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-certificate-") as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = Path(tmp) / "data"
            build_demo(data_dir)
        settings = load_settings("demo", data_dir)
        task = load_task(settings.task.file)
        store = Store(settings.database_path)
        model = the_student(store)
        teacher = root_teacher(store, model)
        with store.reader() as conn:
            rows = conn.execute(HELD_OUT, [teacher, model.prompt_version]).fetchall()
        texts = [text for _, text, _ in rows]
        reference = np.array([int(np.argmax(probs)) for _, _, probs in rows])
        student = np.array([a.probs for a in student_scorer(model, task).annotate(texts)]) if texts else np.zeros((0, len(task.labels)))
    band, none = settings.cascade.relevance_band, task.not_relevant_index
    certificates = {str(eps): certify(student, reference, none, band, eps, DELTA) for eps in EPSILONS}
    # The loss rate where the student would decide 90% of chunks, and the sample it would take to certify that at ε = 0.02.
    curve = risk_curve(student, reference, none, band, TARGET_EPSILON, DELTA)  # every threshold, safest first
    at_target = next((t for t in curve if t.decided >= TARGET_OFFLOAD * len(texts)), None)
    rate = at_target.losses / len(texts) if at_target and texts else None
    emit({
        "model": model.id, "teacher": teacher, "held_out_teacher_answers": len(texts), "delta": DELTA,
        "random_gold": 0,
        "certified": {
            eps: {"threshold": c.threshold, "offload": round(c.offload, 3), "offload_interval": [round(x, 3) for x in c.offload_interval],
                  "risk_upper_bound": None if c.upper_bound is None else round(c.upper_bound, 4), "sentence": c.sentence()}
            for eps, c in certificates.items()
        },
        "for_90_percent_offload_at_epsilon_0.02": {
            "threshold": at_target.threshold if at_target else None,
            "loss_rate_on_held_out": None if rate is None else round(rate, 4),
            "held_out_teacher_answers_needed": None if rate is None else samples_needed(rate, TARGET_EPSILON, DELTA),
            "note": "None needed means the loss rate there is not below 0.02: no sample certifies that offload",
        },
        "thresholds_tested": len(SAFEST_FIRST),
    }, args.out)


if __name__ == "__main__":
    main()
