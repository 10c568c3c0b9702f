from collections import Counter

import pytest

from upscway.storage import annotations as ann
from upscway.tasks.distill.dataset import build_splits, split_of
from upscway.taxonomy import load_task

TASK = load_task()


def test_split_is_stable_and_roughly_proportional():
    ids = [f"article-{i}" for i in range(4000)]
    counts = Counter(split_of(a, 0.5, 0.1) for a in ids)
    assert abs(counts["eval"] / 4000 - 0.5) < 0.03 and abs(counts["validation"] / 4000 - 0.1) < 0.02
    assert [split_of(a) for a in ids[:50]] == [split_of(a) for a in ids[:50]]


def _fill(store, n_articles=60):
    with store.transaction() as conn:
        rows = []
        for a in range(n_articles):
            conn.execute(
                "INSERT INTO articles (id, canonical_url, fetched_url, source, text, content_hash) VALUES (?, ?, ?, 's', 't', ?)",
                [f"a{a}", f"u{a}", f"u{a}", f"h{a}"],
            )
            for o in range(2):
                conn.execute(
                    "INSERT INTO chunks (id, article_id, ordinal, text, char_start, char_end, token_count, text_hash) VALUES (?, ?, ?, ?, 0, 1, 1, ?)",
                    [f"a{a}-{o}", f"a{a}", o, f"text {a} {o}", f"th{a}-{o}"],
                )
                rows.append(
                    ann.AnswerRow(f"th{a}-{o}", "GS2", 2, [0.1, 0.1, 0.6, 0.1, 0.1], 0.6, 0.0, None, 0, 0, 0.0, 1.0)
                )
            conn.execute(
                "INSERT INTO gold_labels (chunk_id, text_hash, task, label, annotator, import_id) VALUES (?, ?, 'upsc_gs', 'GS3', 'p', 'i')",
                [f"a{a}-0", f"th{a}-0"],
            )
        ann.insert(conn, rows, "teacher", "upsc_gs", "v1", "run")


def test_splits_never_share_an_article_and_eval_is_gold_only(store):
    _fill(store)
    with store.reader() as conn:
        splits = build_splits(conn, TASK, "teacher", "v1")

    articles = {name: {e.article_id for e in getattr(splits, name)} for name in ("train", "validation", "eval")}
    assert not (articles["train"] & articles["eval"]) and not (articles["train"] & articles["validation"])
    assert not (articles["validation"] & articles["eval"])
    assert splits.eval and all(e.gold == TASK.index("GS3") for e in splits.eval)
    trained = splits.train + splits.validation
    assert {e.gold for e in trained} == {-1, TASK.index("GS3")}  # gold kept as the hard label where present
    assert all(e.teacher_logprobs[2] == pytest.approx(-0.5108, abs=1e-3) for e in trained)
    assert (
        len(trained) + len(splits.eval) + sum(1 for a in articles["eval"]) == 120
    )  # eval articles' silver-only chunks dropped


def test_with_the_students_languages_no_chunk_of_an_article_in_another_language_is_trained_or_evaluated_on(store):
    _fill(store)
    # a third in Hindi, a third in English, the rest unknown (stored before languages)
    with store.transaction() as conn:
        conn.execute(
            "UPDATE articles SET language = CASE WHEN CAST(substr(id, 2) AS INT) % 3 = 0 THEN 'hi' "
            "WHEN CAST(substr(id, 2) AS INT) % 3 = 1 THEN 'en' END"
        )
    with store.reader() as conn:
        everything, served = (
            build_splits(conn, TASK, "teacher", "v1"),
            build_splits(conn, TASK, "teacher", "v1", served=("en",)),
        )
        hindi = {a for (a,) in conn.execute("SELECT id FROM articles WHERE language = 'hi'").fetchall()}

    def articles(splits):
        return {e.article_id for name in ("train", "validation", "eval") for e in getattr(splits, name)}

    assert articles(everything) & hindi  # without the setting, as before
    assert articles(served) == articles(everything) - hindi
