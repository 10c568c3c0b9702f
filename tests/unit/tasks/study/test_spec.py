"""Study specs: the bundled ones resolve; a bad one is refused naming the file and the key."""

from pathlib import Path

import pytest

from upscway.errors import InputError
from upscway.resources import DEPLOYMENTS_DIR
from upscway.tasks.study.spec import load_spec

BUNDLED = sorted((DEPLOYMENTS_DIR / "studies").glob("*.yaml"))


def test_every_bundled_spec_resolves_its_arms_reference_and_claims():
    assert {p.stem for p in BUNDLED} == {
        "kd-grid",
        "noisy-teacher",
        "teacher-student",
        "quantized",
        "confidence-weighting",
    }
    for path in BUNDLED:
        spec = load_spec(path)
        arms = spec.expanded()
        assert len({a.name for a in arms}) == len(arms) >= 2 and spec.budget.seeds >= 3
        assert spec.select(spec.reference, "reference") in arms
        assert spec.claims and load_spec(path, quick=True).budget == spec.quick


def test_the_kd_grid_crosses_the_grid_and_adds_the_single_arms():
    spec = load_spec(DEPLOYMENTS_DIR / "studies" / "kd-grid.yaml")
    assert [a.name for a in spec.expanded()] == ["α=0.5, T=1", "α=0.5, T=2", "α=0.5, T=5", "α=0, T=2", "α=1, T=2"]
    assert spec.select(spec.claims[1].arm, "claim").settings.temperature == 5


GOOD = """
name: tiny
grid: {temperature: [1, 2]}
reference: {temperature: 2}
"""


@pytest.mark.parametrize(
    "change, key",
    [
        ("grid: {temprature: [1, 2]}", "grid.temprature"),
        ("grid: {temperature: [1, -2]}", "grid.temperature.1"),
        ("grid: {alpha: []}", "grid.alpha"),
        ("arms: [{quantization: int4}]", "arms.0.quantization"),
        ("arms: [{student: {base: x, kind: causal-lm, tuning: full}}]", "arms.0.student"),
        ("budget: {seeds: 1}", "budget.seeds"),
        ("reference: {temperature: 3}", "reference: no arm of the study has temperature=3"),
        ("claims: [{says: s, source: r, arm: {temperature: 9}, against: {}, expect: better}]", "claims.0.arm: no arm"),
        ("claims: [{says: s, source: r, arm: {}, against: {}, expect: maybe}]", "claims.0.expect"),
        ("grid: {temperature: [2]}", "at least two distinct arms"),
    ],
)
def test_a_bad_spec_names_its_file_and_key(tmp_path, change, key):
    lines = [line for line in GOOD.strip().splitlines() if not line.startswith(change.split(":")[0] + ":")]
    path = tmp_path / "bad.yaml"
    path.write_text("\n".join([*lines, change]) + "\n")
    with pytest.raises(InputError) as refused:
        load_spec(path)
    assert str(path) in str(refused.value) and key in str(refused.value)


def test_a_missing_spec_says_so(tmp_path):
    with pytest.raises(InputError, match="study spec .*nothing.yaml does not exist"):
        load_spec(Path(tmp_path / "nothing.yaml"))
