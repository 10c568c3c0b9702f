"""The review loop on a real store, without Prefect: import validates as a whole, appends, and
reports agreement between annotators; export writes what import reads back."""

import csv

import pytest

from upscway.errors import InputError
from upscway.resources import DEPLOYMENTS_DIR
from upscway.tasks.annotate.review import InvalidRows, export_for_review, import_reviewed
from upscway.tasks.annotate.taxonomy import load_task

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

    second = [{**r, "annotator": "second-reader", "gold_label": r["gold_label"] if i else "GS1"} for i, r in enumerate(rows)]
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
