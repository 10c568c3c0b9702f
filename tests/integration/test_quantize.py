"""An INT8 student of a trained candidate, made with the CLI: registered with its lineage,
evaluated against its float parent on the same gold, promoted by the gate, tagging on CPU."""

import os
import subprocess
import sys

import pytest
from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import lenient_gate, rows


def test_an_int8_student_is_registered_evaluated_against_its_parent_promoted_and_tags(
    trained_store, monkeypatch, tmp_path
):
    from upscway.flows.evaluate import evaluate
    from upscway.flows.promote import promote
    from upscway.flows.tag import tag

    annotated_store, parent = trained_store
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    made = subprocess.run(
        [sys.executable, "-m", "upscway.cli", "models", "quantize", parent, "--int8"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    model_id = f"{parent}-int8"
    assert f"registered {model_id} (INT8 of {parent}" in made.stdout
    # Asked again it says so; an INT8 student is not quantized twice.
    from upscway.cli.commands import quantize_model
    from upscway.errors import InputError
    from upscway.settings import load_settings

    again, made_now = quantize_model(load_settings(), parent)
    assert again.id == model_id and made_now is False
    with pytest.raises(InputError, match=f"model {model_id} is already derived from {parent}"):
        quantize_model(load_settings(), model_id)

    ((parent_id, stage, status, size),) = rows(
        annotated_store,
        f"SELECT parent_id, stage, status, json_extract(metrics, '$.size_on_disk_mb')::DOUBLE "
        f"FROM models WHERE id = '{model_id}'",
    )
    assert (parent_id, stage, status) == (parent, "minilm-l3-int8", "candidate") and size < 30
    trained_on = "SELECT json_extract(metrics, '$.train_examples')::INTEGER FROM models WHERE id = '{}'"
    assert (
        rows(annotated_store, trained_on.format(model_id))
        == rows(annotated_store, trained_on.format(parent))
        != [(None,)]
    )
    # Trained on exactly its parent's chunks, so its certificate's held-out news stays held out.
    assert rows(
        annotated_store,
        f"SELECT split, count(*) FROM training_examples WHERE model_id = '{model_id}' GROUP BY 1 ORDER BY 1",
    ) == rows(
        annotated_store,
        f"SELECT split, count(*) FROM training_examples WHERE model_id = '{parent}' GROUP BY 1 ORDER BY 1",
    )

    # Against its float parent on the same gold chunks: nearly the same answers.
    # ε is set before any evaluation: a model evaluated at another ε is certified again only on data gathered after
    # a student one epoch old disagrees with its teacher a lot, and the store holds a dozen held-out articles
    monkeypatch.setenv("UPSCWAY_CASCADE__MAX_LOSS", "0.99")
    monkeypatch.setenv("UPSCWAY_CASCADE__RISK_LEVEL", "0.2")
    against_parent = evaluate(model=model_id, teacher=f"model:{parent}", return_state=True).result()
    ((paired,),) = rows(annotated_store, f"SELECT paired FROM evaluations WHERE id = '{against_parent.evaluation}'")
    import json

    paired = json.loads(paired)
    assert paired["agreement_top1"] >= 0.9 and abs(paired["accuracy_gap"]) <= 0.05

    lenient_gate(monkeypatch)
    promoted = promote(model=model_id, return_state=True).result()
    assert promoted.verdict == "promote" and promoted.production == model_id, promoted.reasons
    monkeypatch.setenv("UPSCWAY_CASCADE__WITHHOLD_UNPROVEN", "false")  # a night this small cannot prove its loss
    tagged = tag(return_state=True).result()
    assert tagged.production_model == model_id
    assert rows(
        annotated_store,
        f"SELECT count(*) > 0 FROM tags WHERE annotator = 'model:{model_id}' AND decided_by = 'student'",
    ) == [(True,)]
