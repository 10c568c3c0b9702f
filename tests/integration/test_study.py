"""The study flow on a real store: arms trained over seeds and stored, the report written, a
rerun that trains nothing, the same figures from a Dask cluster, and a failed arm recorded; an
INT8 arm is its float arm's student, quantized."""

import json
from pathlib import Path

from prefect.client.orchestration import get_client

from tests.integration.conftest import rows
from upscway.flows import runners
from upscway.flows.study import study

real_runner = runners.dask_runner

SPEC = """
name: tiny
description: Two losses, float and INT8, on a 1-layer student.
base:
  student: {base: all-MiniLM-L6-v2, keep_layers: 1}
grid:
  alpha: [0, 0.5]
  quantization: [none, int8]
reference: {alpha: 0.5, quantization: none}
budget: {seeds: 2, epochs: 1, max_train_examples: 24}
claims:
  - {says: KD beats hard labels, source: a report, arm: {alpha: 0.5}, against: {alpha: 0}, expect: better}
"""


def test_a_study_trains_its_arms_over_seeds_reports_them_and_a_rerun_trains_nothing(
    annotated_store, tmp_path, monkeypatch
):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)

    first = study(spec=str(spec), return_state=True).result()
    assert (first.arms, first.seeds, first.trained, first.reused) == (4, 2, 4, 4)  # INT8 arms reuse the float students
    assert first.claims == {"KD beats hard labels": first.claims["KD beats hard labels"]}
    arms = rows(
        annotated_store,
        "SELECT arm, seed, trained, accuracy, size_mb, parameters, model_path, cardinality(predictions) "
        "FROM study_arms ORDER BY arm, seed",
    )
    assert len(arms) == 8 and all(0 <= a[3] <= 1 for a in arms)
    assert {a[7] for a in arms} == {first.gold_chunks} and first.gold_chunks > 50
    int8 = {(a[0], a[1]): a for a in arms if "int8" in a[0]}
    floats = {(a[0].replace("int8", "none"), a[1]): a for a in arms if "none" in a[0]}
    for (name, seed), row in int8.items():
        twin = floats[(name.replace("int8", "none"), seed)]
        assert row[6] == twin[6] + "-int8" and row[4] < 0.6 * twin[4] and row[5] == twin[5]
    # The same seed of an arm trains the same student: seeds differ, a rerun is the same.
    trained = {a[6]: a for a in arms}
    assert len(trained) == 8
    stamps = {
        path: (Path(path) / "model.safetensors").stat().st_mtime_ns for path in trained if not path.endswith("-int8")
    }

    report = Path(first.report)
    text = report.read_text()
    assert text.startswith("# Study tiny\n\n") and "KD beats hard labels (a report; Δ accuracy" in text.split("\n\n")[1]
    assert "## Arms (mean ± sd over seeds)" in text and " ± " in text and "## Paired with the reference arm" in text
    assert "| teacher `embedding:all-MiniLM-L6-v2@T0.05` | 0." in text  # the teacher on the same gold, for scale
    page = (report.parent / "report.html").read_text()
    assert page.count("<table>") >= 4
    for png in ("pareto", "alpha_curve"):
        assert (report.parent / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    with get_client(sync_client=True) as client:  # the UI's copy, plots inlined
        (artifact,) = [a for a in client.read_artifacts() if a.key == f"study-{first.study.lower()}"]
    assert artifact.data.count("](data:image/png;base64,") == 2 and "## Arms (mean ± sd over seeds)" in artifact.data

    again = study(spec=str(spec), return_state=True).result()
    assert (again.trained, again.reused) == (0, 8)
    assert {p: (Path(p) / "model.safetensors").stat().st_mtime_ns for p in stamps} == stamps
    (summary,) = rows(annotated_store, f"SELECT summary FROM studies WHERE id = '{again.study}'")
    arms_of = "SELECT arm, seed, accuracy FROM study_arms WHERE study_id = '{}' ORDER BY arm, seed"
    before = rows(annotated_store, arms_of.format(first.study))
    after = rows(annotated_store, arms_of.format(again.study))
    assert before == after and json.loads(summary[0])["reference"] == "α=0.5, quantization=none"

    # On a Dask cluster the arms fan out to its worker processes and store the same figures.
    clusters = []
    monkeypatch.setattr(runners, "dask_runner", lambda settings: clusters.append(settings) or real_runner(settings))
    monkeypatch.setenv("UPSCWAY_RUNNER__KIND", "dask")
    monkeypatch.setenv("UPSCWAY_RUNNER__DASK_WORKERS", "2")
    fanned = study(spec=str(spec), return_state=True).result()
    assert len(clusters) == 1 and (fanned.trained, fanned.reused) == (0, 8)
    on_dask = rows(annotated_store, arms_of.format(fanned.study))
    assert on_dask == before

    # An arm that fails marks its study failed, with the error; what was recorded stays.
    from upscway.tasks.study import steps

    def broken(job, say, advance):
        raise RuntimeError(f"out of memory training {job.arm}")

    monkeypatch.setenv("UPSCWAY_RUNNER__KIND", "threads")
    monkeypatch.setattr(steps, "run_arm", broken)
    assert study(spec=str(spec), return_state=True).is_failed()
    ((status, summary),) = rows(annotated_store, "SELECT status, summary FROM studies ORDER BY created_at DESC LIMIT 1")
    assert status == "failed"
    assert json.loads(summary) == {
        "error": "RuntimeError: out of memory training α=0, quantization=none",
        "arms_recorded": 0,
    }
    assert rows(annotated_store, "SELECT count(*) FROM study_arms") == [(24,)]
