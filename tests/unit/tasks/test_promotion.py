"""Promotion on a real store, without Prefect or a trained model: the gate's decision is
recorded, `production` moves only on a pass (or forced, with a reason), rollback restores."""

import pytest

from tests.support.certificates import certificate
from tests.support.models import new_model
from upscway.errors import InputError
from upscway.records import PRODUCTION
from upscway.results import PairedResult
from upscway.settings import GateSettings
from upscway.storage import audits as audit_rows
from upscway.storage import evaluations as evaluation_repo
from upscway.storage import models as registry
from upscway.tasks.promotion import apply_gate, clear_fallback, latest_evaluation, rollback


def _register(store, model_id):
    with store.transaction() as conn:
        registry.register(
            conn,
            new_model(model_id, path="/nowhere"),
        )


def _evaluate(store, model_id, accuracy, n=200):
    per_paper = [[0] * 5 for _ in range(5)]
    for i in range(5):
        per_paper[i][i] = n // 5
    metrics = {
        "accuracy": accuracy,
        "relevance_accuracy": accuracy,
        "precision": accuracy,
        "recall": accuracy,
        "gs_accuracy": accuracy,
        "confusion": per_paper,
    }
    cert = certificate()  # certified at 0.35, the student deciding 60%
    result = {
        "student": metrics,
        "teacher": {**metrics, "accuracy": 0.8},
        "paired": {"n": n},
        "cascade": {
            "certificate": cert,
            "certificates": [cert],
            "confidence": 0.95,
            "chosen": {"threshold": cert["threshold"], "offload": 0.6, "accuracy": 0.8, "scores": metrics},
        },
    }
    with store.transaction() as conn:
        evaluation_repo.insert(conn, f"e-{model_id}", model_id, "t", "eval", PairedResult.model_validate(result), "r")
    return latest_evaluation(store, model_id)


def test_a_pass_moves_production_a_fail_does_not_unless_forced_and_rollback_restores(store):
    for model_id in ("good", "bad"):
        _register(store, model_id)
    gate = GateSettings()
    passed = apply_gate(store, "good", _evaluate(store, "good", 0.85), gate, force=False, reason=None)
    assert passed.verdict == "promote" and passed.production == "good" and passed.cascade_threshold == 0.35
    assert passed.certificate.startswith(
        "Certified: with 95% confidence the cascade at threshold 0.35 loses at most 0.02"
    )
    with store.reader() as conn:
        assert registry.validated_threshold(conn, PRODUCTION, "good") == 0.35
        stored = conn.execute(
            "SELECT max_loss, risk_level, certified_threshold, round(risk_upper_bound, 4), certified_offload, "
            "certificate_loss, certificate_n, certificate_sentence FROM gate_decisions"
        ).fetchall()
    bound = round(latest_evaluation(store, "good").result.cascade.certificate.upper_bound, 4)
    assert stored == [(0.02, 0.05, 0.35, bound, 0.6, "consistency", 2000, passed.certificate)]

    failed = apply_gate(store, "bad", _evaluate(store, "bad", 0.40), gate, force=False, reason=None)
    assert failed.verdict == "reject" and failed.production == "unchanged" and not failed.forced
    with store.reader() as conn:
        assert registry.holder(conn, PRODUCTION) == "good"
    with pytest.raises(InputError, match="--force needs --reason"):
        apply_gate(store, "bad", latest_evaluation(store, "bad"), gate, force=True, reason=" ")
    forced = apply_gate(store, "bad", latest_evaluation(store, "bad"), gate, force=True, reason="editor's call")
    assert forced.production == "bad" and forced.forced and forced.previous_production == "good"

    assert rollback(store, "too many GS3 errors") == ("bad", "good")
    with store.reader() as conn:
        assert registry.holder(conn, PRODUCTION) == "good"
        decisions = conn.execute("SELECT model_id, verdict, forced FROM gate_decisions ORDER BY id").fetchall()
    assert decisions == [("good", "promote", False), ("bad", "reject", False), ("bad", "reject", True)]


def test_the_gold_split_and_a_missing_teacher_are_named(store, tmp_path):
    import csv

    from upscway.resources import DEPLOYMENTS_DIR
    from upscway.settings import DistillSettings, TeacherSettings
    from upscway.tasks.answers import ensure_answers
    from upscway.tasks.distill.dataset import split_of
    from upscway.tasks.evaluate.steps import gold_of_split
    from upscway.tasks.gold.review import import_reviewed
    from upscway.tasks.resources import RunResources
    from upscway.taxonomy import load_task

    task_def = load_task()
    with pytest.raises(InputError, match="no gold chunks to report on in split 'eval'"):
        gold_of_split(store, task_def, "eval", DistillSettings(), 0.5)
    import_reviewed(store, task_def, DEPLOYMENTS_DIR / "demo" / "gold.csv", None, False, "minilm")
    gold, calibrating = gold_of_split(store, task_def, "eval", DistillSettings(), 0.5)
    assert (
        calibrating.chunk_ids == []
    )  # the bundled gold was written for review, not sampled from the news: reported only
    with store.reader() as conn:
        articles = dict(conn.execute("SELECT id, article_id FROM chunks").fetchall())
    assert gold.chunk_ids and all(split_of(articles[c]) == "eval" for c in gold.chunk_ids)
    with open(DEPLOYMENTS_DIR / "demo" / "gold.csv", newline="", encoding="utf-8") as lines:
        labels = {row["text"].strip(): row["gold_label"] for row in csv.DictReader(lines)}
    assert [task_def.names[g] for g in gold.gold] == [labels[t] for t in gold.texts]
    with pytest.raises(InputError, match="teacher openai:elsewhere has no stored answer for"):
        teacher = TeacherSettings(backend="embedding")
        ensure_answers(store, "r", "openai:elsewhere", gold.hashes, teacher, task_def, RunResources())


def test_promote_evaluates_again_only_when_the_stored_certificate_does_not_answer_the_settings(store):
    from upscway.settings import CascadeSettings
    from upscway.tasks.cascade.validity import needs_evaluation

    _register(store, "m")
    current = _evaluate(store, "m", 0.85)
    assert needs_evaluation(None, CascadeSettings()) == "not evaluated yet"
    assert needs_evaluation(current, CascadeSettings()) is None
    assert "certified at ε = 0.02, δ = 0.05; the settings ask for ε = 0.05" in needs_evaluation(
        current, CascadeSettings(max_loss=0.05)
    )
    assert needs_evaluation(current, CascadeSettings(risk_level=0.1)) is not None
    old = current.result.model_copy(update={"cascade": current.result.cascade.model_copy(update={"confidence": None})})
    assert (
        needs_evaluation(type(current)(current.id, old), CascadeSettings())
        == "its latest evaluation was stored before certificates"
    )
    empty = current.result.model_copy(
        update={"cascade": current.result.cascade.model_copy(update={"certificate": None, "certificates": ()})}
    )
    assert (
        needs_evaluation(type(current)(current.id, empty), CascadeSettings()) is None
    )  # nothing to certify on: evaluating again finds no more


def test_a_fallback_is_cleared_by_hand_only_with_a_reason_and_starts_the_calibration_window_at_its_run(store):
    _register(store, "good")
    apply_gate(store, "good", _evaluate(store, "good", 0.85), GateSettings(), force=False, reason=None)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO flow_runs (id, flow, status, started_at) VALUES ('night-9', 'tag', 'completed', TIMESTAMPTZ '2026-12-01 02:00:00+00')"
        )
        audit_rows.record_fallback(
            conn, "good", "night-9", "the live bound shows the certificate broken", {"live_lower": 0.3}
        )
    with store.reader() as conn:
        since = audit_rows.production_fallback_since(conn)
    assert since.isoformat().startswith(
        "2026-12-01T02:00:00"
    )  # the detecting night's answers count, not only later ones
    with pytest.raises(InputError, match="needs --reason"):
        clear_fallback(store, "")
    assert clear_fallback(store, "a teacher outage; reviewed") == ("good", 1)
    with store.reader() as conn:
        assert audit_rows.production_fallback_since(conn) is None
        assert conn.execute("SELECT cleared_reason FROM fallbacks").fetchall() == [
            ("by hand: a teacher outage; reviewed",)
        ]
    with pytest.raises(InputError, match="no active fallback"):
        clear_fallback(store, "again")
