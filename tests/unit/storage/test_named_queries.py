"""Each named query in sql/queries/ on a small store built by hand."""

import json

import pytest

from upscway.errors import InputError
from upscway.storage.adhoc import named_queries, run_named


@pytest.fixture
def small(store):
    with store.transaction() as c:
        c.execute(
            "INSERT INTO articles (id, canonical_url, fetched_url, source, text, content_hash) VALUES ('a1','u1','u1','pib','t','h1'), ('a2','u2','u2','hindu','t','h2')"
        )
        for i, (article, h) in enumerate([("a1", "t1"), ("a1", "t2"), ("a2", "t3")]):
            c.execute(
                "INSERT INTO chunks (id, article_id, ordinal, text, char_start, char_end, token_count, text_hash) VALUES (?, ?, ?, 'x', 0, 1, 1, ?)",
                [f"{article}-{i}", article, i, h],
            )
        rows = [  # (text_hash, annotator, label, days ago)
            ("t1", "teacher", "GS2", 1),
            ("t2", "teacher", "GS3", 1),
            ("t3", "teacher", "GS2", 10),
            ("t1", "student", "GS2", 1),
            ("t2", "student", "GS1", 1),
            ("t3", "student", "GS2", 20),
        ]
        for h, who, label, ago in rows:
            c.execute(
                "INSERT INTO annotations (text_hash, annotator, task, prompt_version, label, label_index, probs, confidence, created_at) "
                "VALUES (?, ?, 'upsc_gs', 'v', ?, 0, [0.2,0.2,0.2,0.2,0.2], 0.6, current_timestamp - to_days(?))",
                [h, who, label, ago],
            )
        c.execute(
            "INSERT INTO tags (chunk_id, text_hash, task, label, probs, confidence, decided_by, annotator) VALUES "
            "('a1-0', 't1', 'upsc_gs', 'GS2', [0.1,0.6,0.1,0.1,0.1], 0.6, 'student', 'model:m1'), "
            "('a1-1', 't2', 'upsc_gs', 'GS3', [0.1,0.1,0.6,0.1,0.1], 0.6, 'teacher', 'teacher'), "
            "('a2-2', 't3', 'upsc_gs', 'GS2', [0.1,0.6,0.1,0.1,0.1], 0.6, 'teacher', 'teacher')"
        )
        c.execute(
            "UPDATE articles SET title = 'Title ' || id, published_date = CASE id WHEN 'a1' THEN DATE '2026-11-20' ELSE DATE '2026-11-01' END"
        )
        c.execute(
            "INSERT INTO gold_labels (chunk_id, text_hash, task, label, annotator, import_id) VALUES ('a1-1', 't2', 'upsc_gs', 'GS3', 'p', 'i')"
        )
        c.execute(
            "INSERT INTO models (id, chain, stage, kind, base_model, path, teacher, task, prompt_version, metrics, status) "
            "VALUES ('m1', 'demo', 's1', 'encoder', 'b', 'p', 'teacher', 'upsc_gs', 'v', '{\"train_examples\": 5}', 'candidate')"
        )
        c.execute(
            "INSERT INTO evaluations (id, model_id, teacher, gold_split, n, metrics, teacher_metrics, paired) VALUES ('e1', 'm1', 'teacher', 'eval', 3, ?, ?, '{}')",
            [json.dumps({"accuracy": 0.5}), json.dumps({"accuracy": 0.75})],
        )
        c.execute(
            "INSERT INTO gate_decisions (model_id, evaluation_id, verdict, criteria, reasons) VALUES ('m1', 'e1', 'reject', '[]', '[\"recall\"]')"
        )
    return store


def test_every_query_is_listed_with_its_parameters():
    queries = named_queries()
    assert set(queries) == {
        "annotations_by_day",
        "annotators",
        "article",
        "cascade_nights",
        "gold_disagreements",
        "gate_history",
        "models",
        "label_drift",
        "tagged",
        "studies",
        "study_arms",
    }
    days = next(p for p in queries["annotations_by_day"].parameters if p.name == "days")
    assert (days.default, days.description, str(days)) == ("30", "how many days back", "days=30")
    assert [str(p) for p in queries["gold_disagreements"].parameters] == ["annotator_a=…", "annotator_b=…"]
    assert all(p.description for q in queries.values() for p in q.parameters)


def test_annotations_by_day_and_source(small):
    columns, rows = run_named(small, "annotations_by_day", {"annotator": "teacher", "days": "5"})
    assert columns == ["day", "source", "label", "chunks"]
    assert sorted((r[1], r[2], r[3]) for r in rows) == [("pib", "GS2", 1), ("pib", "GS3", 1)]


def test_gold_disagreements(small):
    _, rows = run_named(small, "gold_disagreements", {"annotator_a": "teacher", "annotator_b": "student"})
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [("a1-1", "GS3", "GS3", "GS1")]
    with pytest.raises(InputError, match="needs --param annotator_b"):
        run_named(small, "gold_disagreements", {"annotator_a": "teacher"})
    with pytest.raises(InputError, match="no answers from that annotator; known: student, teacher"):
        run_named(small, "gold_disagreements", {"annotator_a": "teacher", "annotator_b": "the-teacher"})


def test_annotators(small):
    columns, rows = run_named(small, "annotators", {})
    assert columns[:2] == ["annotator", "chunks"] and sorted(r[:2] for r in rows) == [("student", 3), ("teacher", 3)]


def test_tagged_filters_and_article(small):
    columns, rows = run_named(small, "tagged", {})
    assert columns == ["chunk_id", "label", "confidence", "decided_by", "title", "url", "date", "source"]
    assert [r[0] for r in rows] == ["a1-0", "a1-1", "a2-2"] and rows[0][4] == "Title a1" and rows[0][5] == "u1"
    assert [r[0] for r in run_named(small, "tagged", {"since": "2026-11-10"})[1]] == ["a1-0", "a1-1"]
    assert [r[0] for r in run_named(small, "tagged", {"source": "hindu", "label": "gs2"})[1]] == ["a2-2"]
    assert [r[0] for r in run_named(small, "tagged", {"limit": "1"})[1]] == ["a1-0"]
    with pytest.raises(InputError, match="query failed"):
        run_named(small, "tagged", {"since": "last tuesday"})
    _, chunks = run_named(small, "article", {"article": "u1"})
    assert [(r[0], r[2], r[4]) for r in chunks] == [(0, "GS2", "student"), (1, "GS3", "teacher")]
    assert run_named(small, "article", {"article": "a1"})[1] == chunks


def test_gate_history_and_models(small):
    _, history = run_named(small, "gate_history", {})
    assert [(r[1], r[4]) for r in history] == [("m1", "reject")]
    columns, models = run_named(small, "models", {})
    row = dict(zip(columns, models[0]))
    assert row["train_examples"] == 5 and row["gold_accuracy"] == 0.5 and row["teacher_gold_accuracy"] == 0.75


def test_studies_and_their_arms(small):
    from upscway.storage import studies

    with small.transaction() as c:
        for study_id, accuracy in (("old", 0.4), ("new", 0.6)):
            studies.start(
                c,
                studies.StudyStart(
                    study_id=study_id,
                    name="kd-grid",
                    spec_file="f.yaml",
                    spec={"budget": {"seeds": 2, "epochs": 1}},
                    quick=True,
                    teacher="teacher",
                    gold_chunks=3,
                    run_id="r",
                ),
            )
            c.execute(
                "UPDATE studies SET created_at = created_at + to_seconds(?) WHERE id = ?",
                [int(accuracy * 10), study_id],
            )
            for seed in (0, 1):
                studies.record_arm(
                    c,
                    study_id,
                    studies.ArmRow(
                        "T=2",
                        seed,
                        "k",
                        {"temperature": 2},
                        seed == 0,
                        {"accuracy": accuracy, "macro_f1": 0.5, "size_mb": 1.5},
                        [0, 1, 2],
                        "p",
                    ),
                )
    columns, rows = run_named(small, "study_arms", {})
    assert [(dict(zip(columns, r))["study_id"], r[2], r[3], r[-3]) for r in rows] == [
        ("new", 0, 0.6, True),
        ("new", 1, 0.6, False),
    ]
    assert {r[-1] for r in run_named(small, "study_arms", {"study": "old"})[1]} == {"old"}
    columns, listed = run_named(small, "studies", {})
    assert [r[0] for r in listed] == ["new", "old"] and dict(zip(columns, listed[0]))["seeds"] == 2
    with small.reader() as conn:
        assert studies.arms(conn, "old")[0].predictions == [0, 1, 2]


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
