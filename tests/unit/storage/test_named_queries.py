"""Each named query in sql/queries/ on a small store built by hand."""

import json

import pytest

from upscway.errors import InputError
from upscway.storage.adhoc import named_queries, run_named


@pytest.fixture
def small(store):
    with store.transaction() as c:
        c.execute("INSERT INTO articles (id, canonical_url, fetched_url, source, text, content_hash) VALUES ('a1','u1','u1','pib','t','h1'), ('a2','u2','u2','hindu','t','h2')")
        for i, (article, h) in enumerate([("a1", "t1"), ("a1", "t2"), ("a2", "t3")]):
            c.execute("INSERT INTO chunks (id, article_id, ordinal, text, char_start, char_end, token_count, text_hash) VALUES (?, ?, ?, 'x', 0, 1, 1, ?)", [f"{article}-{i}", article, i, h])
        rows = [  # (text_hash, annotator, label, days ago)
            ("t1", "teacher", "GS2", 1), ("t2", "teacher", "GS3", 1), ("t3", "teacher", "GS2", 10),
            ("t1", "student", "GS2", 1), ("t2", "student", "GS1", 1), ("t3", "student", "GS2", 20),
        ]
        for h, who, label, ago in rows:
            c.execute(
                "INSERT INTO annotations (text_hash, annotator, task, prompt_version, label, label_index, probs, confidence, created_at) "
                "VALUES (?, ?, 'upsc_gs', 'v', ?, 0, [0.2,0.2,0.2,0.2,0.2], 0.6, current_timestamp - to_days(?))",
                [h, who, label, ago],
            )
        c.execute("INSERT INTO gold_labels (chunk_id, text_hash, task, label, annotator, import_id) VALUES ('a1-1', 't2', 'upsc_gs', 'GS3', 'p', 'i')")
        c.execute("INSERT INTO models (id, chain, stage, kind, base_model, path, teacher, task, prompt_version, metrics, status) "
                  "VALUES ('m1', 'demo', 's1', 'encoder', 'b', 'p', 'teacher', 'upsc_gs', 'v', '{\"train_examples\": 5}', 'candidate')")
        c.execute("INSERT INTO evaluations (id, model_id, teacher, gold_split, n, metrics, teacher_metrics, paired) VALUES ('e1', 'm1', 'teacher', 'eval', 3, ?, ?, '{}')",
                  [json.dumps({"accuracy": 0.5}), json.dumps({"accuracy": 0.75})])
        c.execute("INSERT INTO gate_decisions (model_id, evaluation_id, verdict, criteria, reasons) VALUES ('m1', 'e1', 'reject', '[]', '[\"recall\"]')")
    return store


def test_every_query_is_listed():
    assert set(named_queries()) == {"annotations_by_day", "gold_disagreements", "gate_history", "models", "label_drift"}


def test_annotations_by_day_and_source(small):
    columns, rows = run_named(small, "annotations_by_day", {"annotator": "teacher", "days": "5"})
    assert columns == ["day", "source", "label", "chunks"]
    assert sorted((r[1], r[2], r[3]) for r in rows) == [("pib", "GS2", 1), ("pib", "GS3", 1)]


def test_gold_disagreements(small):
    _, rows = run_named(small, "gold_disagreements", {"a": "teacher", "b": "student"})
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [("a1-1", "GS3", "GS3", "GS1")]
    with pytest.raises(InputError, match="needs --param b"):
        run_named(small, "gold_disagreements", {"a": "teacher"})


def test_gate_history_and_models(small):
    _, history = run_named(small, "gate_history", {})
    assert [(r[1], r[4]) for r in history] == [("m1", "reject")]
    columns, models = run_named(small, "models", {})
    row = dict(zip(columns, models[0]))
    assert row["train_examples"] == 5 and row["gold_accuracy"] == 0.5 and row["teacher_gold_accuracy"] == 0.75


def test_label_drift(small):
    columns, rows = run_named(small, "label_drift", {"annotator": "student"})
    drift = {r[0]: r[1:] for r in rows}
    assert drift["GS2"][0] == 0.5 and drift["GS2"][1] == 1.0 and drift["GS2"][2] == -0.5
    assert drift["GS1"][0] == 0.5


def test_unknown_query_and_parameter(small):
    with pytest.raises(InputError, match="no query 'nope'"):
        run_named(small, "nope", {})
    with pytest.raises(InputError, match="takes no parameter x"):
        run_named(small, "models", {"x": "1"})
