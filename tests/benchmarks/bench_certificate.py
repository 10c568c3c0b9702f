"""What the cascade certificate (`tasks/cascade/certificate.py`) can certify on a store's own data.

    python tests/benchmarks/bench_certificate.py [--data-dir DIR] [--out result.json]

Without `--data-dir` it builds the demo's store first (the bundled gold and `make demo`'s
first night, `common.DEMO_FIRST_NIGHT`). On the store, with the samples
`evaluate` certifies on (`tasks/evaluate/steps.py`: `held_out`, `gold_of_split`,
`calibration_samples`): the production student (else the newest candidate) scores the held-out
teacher answers (news chunks of the evaluation split that no model trained on and no cascade
selected, the reported gold left out) and the random gold of the calibration articles. For
ε ∈ {0.01, 0.02, 0.05} at δ = 0.05 it prints what is certified, and, where the student would
decide 90% of chunks, the loss rate and how many held-out teacher answers (and random gold)
would certify ε = 0.02 there (`shortfall`), with the fewest random gold that could certify it
at all (δ/2: tested beside consistency). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import DEMO_FIRST_NIGHT, emit  # first: offline env, the project on sys.path

from upscway.records import PRODUCTION  # noqa: E402
from upscway.settings import load_settings  # noqa: E402
from upscway.storage.store import Store  # noqa: E402
from upscway.tasks.answers import answers_of  # noqa: E402
from upscway.tasks.cascade.certificate import SAFEST_FIRST, certify_cascade, shortfall  # noqa: E402
from upscway.tasks.cascade.evalues import samples_needed  # noqa: E402
from upscway.tasks.distill.scoring import student_scorer  # noqa: E402
from upscway.tasks.evaluate.steps import calibration_samples, gold_of_split, held_out, teacher_on_gold  # noqa: E402
from upscway.tasks.registry import model as registered  # noqa: E402
from upscway.taxonomy import load_task  # noqa: E402

EPSILONS, DELTA, TARGET_OFFLOAD, TARGET_EPSILON = (0.01, 0.02, 0.05), 0.05, 0.9, 0.02


def build_demo(data_dir: Path) -> None:
    env = {**os.environ, "UPSCWAY_PROFILE": "demo", "UPSCWAY_DATA_DIR": str(data_dir)}
    cli = [sys.executable, "-m", "upscway.cli"]
    for args in DEMO_FIRST_NIGHT:
        subprocess.run([*cli, *args], env=env, check=True, stdout=subprocess.DEVNULL)


def the_student(store: Store):
    with store.reader() as conn:
        held = conn.execute("SELECT id FROM models WHERE alias = ?", [PRODUCTION]).fetchone()
        newest = conn.execute(
            "SELECT id FROM models WHERE status = 'candidate' ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    chosen = held or newest
    if chosen is None:
        raise SystemExit("no trained student in this store: run `upscway run nightly` (or distill) first")
    return registered(store, chosen[0])


def root_teacher(store: Store, model) -> str:
    """The annotator the chain's first stage learnt from (what the cascade saves requests to)."""
    annotator = model.teacher
    with store.reader() as conn:
        while annotator.startswith("model:"):
            annotator = conn.execute(
                "SELECT teacher FROM models WHERE id = ?", [annotator.split(":", 1)[1]]
            ).fetchone()[0]
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
        reported, random_gold = gold_of_split(
            store, task, "eval", settings.distill, settings.cascade.calibration_fraction
        )
        held, _ = held_out(store, teacher, model.prompt_version, "eval", settings.distill, reported)
        on_random = teacher_on_gold(
            answers_of(store, teacher, model.prompt_version, random_gold.hashes), random_gold, teacher
        )
        consistency, accuracy = calibration_samples(student_scorer(model, task), task, held, random_gold, on_random)
    band, none = settings.cascade.relevance_band, task.not_relevant_index
    certified = {str(eps): certify_cascade(consistency, accuracy, none, band, eps, DELTA) for eps in EPSILONS}
    target = {}
    for c in certified[str(TARGET_EPSILON)][1]:
        gap = shortfall(c, TARGET_OFFLOAD)
        target[c.loss] = (
            None
            if gap is None
            else {
                "threshold": gap.threshold,
                "offload": round(gap.offload, 3),
                "loss_rate": round(gap.loss_rate, 4),
                "needed": gap.needed,
                "would_support_not_a_certificate": round(gap.would_support, 4),
                "loss_rate_at_least": round(gap.rate_at_least, 4),
            }
        )
    emit(
        {
            "model": model.id,
            "teacher": teacher,
            "held_out_teacher_answers": len(held),
            "random_gold": len(random_gold.texts),
            "reported_gold": len(reported.texts),
            "delta": DELTA,
            "certified": {
                eps: None
                if used is None
                else {
                    "loss": used.loss,
                    "threshold": used.threshold,
                    "offload": round(used.offload, 3),
                    "offload_interval": [round(x, 3) for x in used.offload_interval],
                    "risk_upper_bound": None if used.upper_bound is None else round(used.upper_bound, 4),
                    "sentence": used.sentence(1 - DELTA),
                }
                for eps, (used, _) in certified.items()
            },
            f"for_{TARGET_OFFLOAD:.0%}_offload_at_epsilon_{TARGET_EPSILON}": {
                **target,
                "random_gold_needed_at_least": samples_needed(0.0, TARGET_EPSILON, DELTA / 2),
                "note": "needed: chunks of that sample at the loss rate seen; None: the rate is not below ε, no sample certifies it",
            },
            "thresholds_tested": len(SAFEST_FIRST),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
