from pathlib import Path

import pytest

from upscway.errors import InputError
from upscway.tasks.distill.chains import load_chain


def test_shipped_chains():
    demo = load_chain("demo")
    assert [s.name for s in demo] == ["minilm-l3", "minilm-l1"] and demo[1].teacher.stage == "minilm-l3"
    # the demo's first stage learns from the profile's teacher, whichever backend it is
    assert demo[0].teacher.annotator("recorded:stream") == "recorded:stream"
    assert demo[0].teacher.annotator("embedding:x") == "embedding:x"
    production = load_chain("production")
    assert [s.student for s in production] == ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct"]
    assert production[0].teacher.annotations.startswith("openai:") and production[1].teacher.stage == "7b"
    assert production[0].teacher.annotator("recorded:stream").startswith("openai:")  # named: not the profile's
    causal = load_chain("demo-causal")
    assert [s.kind for s in causal] == ["causal-lm", "encoder"] and causal[1].teacher.stage == causal[0].name
    assert causal[0].base_model(Path("/srv/upscway")) == "/srv/upscway/base-models/SmolLM2-135M-Instruct"


def test_bad_chains_are_input_errors(tmp_path):
    path = tmp_path / "chains.yaml"
    path.write_text("chains:\n  x:\n    - {name: b, kind: encoder, student: m, teacher: {stage: a}}\n")
    with pytest.raises(InputError, match="not an earlier stage"):
        load_chain("x", path)
    with pytest.raises(InputError, match="no chain 'z'"):
        load_chain("z", path)
    path.write_text("chains:\n  y:\n    - {name: a, kind: encoder, student: m, teacher: {annotations: t, stage: a}}\n")
    with pytest.raises(InputError, match="either"):
        load_chain("y", path)
