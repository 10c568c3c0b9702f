"""The review loop on a real store, without Prefect: import validates as a whole, appends, and
reports agreement between annotators; export writes what import reads back."""

import csv

import pytest

from upscway.errors import InputError
from upscway.resources import DEPLOYMENTS_DIR
from upscway.tasks.gold.review import InvalidRows, export_for_review, import_reviewed
from upscway.taxonomy import load_task

TASK = load_task()
GOLD = DEPLOYMENTS_DIR / "demo" / "gold.csv"


def _rows(n):
    with open(GOLD, newline="", encoding="utf-8") as lines:
        return list(csv.DictReader(lines))[:n]


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_import_appends_reports_counts_and_kappa_between_annotators(store, tmp_path):
    rows = _rows(6)
    first = import_reviewed(store, TASK, _write(tmp_path / "a.csv", rows), None, False, "minilm")
    assert (first.added, first.unchanged, first.errors) == (6, 0, [])
    assert sum(first.by_label.values()) == 6 and first.agreement == []

    again = import_reviewed(store, TASK, _write(tmp_path / "a2.csv", rows), None, False, "minilm")
    assert (again.added, again.unchanged) == (0, 6)  # the same labels add nothing

    second = [
        {**r, "annotator": "second-reader", "gold_label": r["gold_label"] if i else "GS1"} for i, r in enumerate(rows)
    ]
    report = import_reviewed(store, TASK, _write(tmp_path / "b.csv", second), None, False, "minilm")
    (pair,) = report.agreement
    assert {pair.a, pair.b} == {"upscway-demo", "second-reader"} and pair.chunks == 6
    assert pair.kappa is not None and pair.kappa < 1.0


def test_an_invalid_row_imports_nothing_unless_skipped(store, tmp_path):
    rows = _rows(3)
    rows[1]["gold_label"] = "GS9"
    path = _write(tmp_path / "bad.csv", rows)
    with pytest.raises(InvalidRows) as refused:
        import_reviewed(store, TASK, path, None, False, "minilm")
    assert [line for line, _ in refused.value.errors] == [3] and "GS9" in refused.value.errors[0][1]
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM gold_labels").fetchone()[0] == 0

    skipped = import_reviewed(store, TASK, path, None, True, "minilm")
    assert skipped.added == 2 and len(skipped.errors) == 1


def test_export_of_an_annotator_without_answers_is_an_error_naming_the_known_ones(store, tmp_path):
    import_reviewed(store, TASK, _write(tmp_path / "a.csv", _rows(2)), None, False, "minilm")
    with pytest.raises(InputError, match="'teacher' has no answers for upsc_gs; known: none yet"):
        export_for_review(store, TASK, "uncertainty", 5, tmp_path / "out.csv", "teacher", 0)
    assert not (tmp_path / "out.csv").exists()


def test_the_audit_export_draws_at_random_from_this_weeks_tagged_chunks_and_says_so(store, tmp_path):
    """`--strategy audit`: a uniform sample of the chunks tagged in production in the last
    week (old tags and gold-labelled chunks are not in the pool), recorded as random with each
    one's chance, so that the accuracy certificate can use it once labelled."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO articles (id, canonical_url, fetched_url, source, text, content_hash) VALUES ('a', 'u', 'u', 'pib', 't', 'h')"
        )
        for i in range(12):
            conn.execute(
                "INSERT INTO chunks (id, article_id, ordinal, text, char_start, char_end, token_count, text_hash) "
                "VALUES (?, 'a', ?, ?, 0, 1, 1, ?)",
                [f"c{i}", i, f"text {i}", f"h{i}"],
            )
            conn.execute(
                "INSERT INTO annotations (text_hash, annotator, task, prompt_version, label, label_index, probs, confidence) "
                "VALUES (?, 'teacher', 'upsc_gs', 'v', 'GS1', 1, [0.1, 0.6, 0.1, 0.1, 0.1], 0.6)",
                [f"h{i}"],
            )
            ago = 30 if i >= 10 else 1  # c10, c11 tagged a month ago
            conn.execute(
                "INSERT INTO tags (chunk_id, text_hash, task, label, probs, confidence, decided_by, annotator, created_at) "
                "VALUES (?, ?, 'upsc_gs', 'GS2', [0.1, 0.1, 0.6, 0.1, 0.1], 0.6, 'student', 'model:m', "
                "current_timestamp - to_days(?))",
                [f"c{i}", f"h{i}", ago],
            )
        conn.execute(
            "INSERT INTO gold_labels (chunk_id, text_hash, task, label, annotator, import_id) VALUES ('c0', 'h0', 'upsc_gs', 'GS2', 'p', 'i')"
        )
    written, candidates = export_for_review(store, TASK, "audit", 3, tmp_path / "audit.csv", "teacher", 0)
    assert (written, candidates) == (3, 9)  # c1 … c9
    with open(tmp_path / "audit.csv", newline="", encoding="utf-8") as sheet:
        rows = list(csv.DictReader(sheet))
    assert {r["chunk_id"] for r in rows} <= {f"c{i}" for i in range(1, 10)}
    assert {(r["sampling"], r["sampling_probability"], r["teacher_label"]) for r in rows} == {
        ("random", f"{3 / 9:.12g}", "GS2")
    }
