"""The review loop on a real store, without Prefect: import validates as a whole, appends, and
reports agreement between annotators; export writes what import reads back."""

import csv
import json

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


def _news(store, articles):
    """Articles `a`, `b`, … of `articles[a]` chunks each (`<a>-<i>`, text hash `h<a><i>` unless
    `shared` names it), every chunk answered by the teacher and tagged by a student."""
    with store.transaction() as conn:
        for article, (chunks, shared) in articles.items():
            conn.execute(
                "INSERT INTO articles (id, canonical_url, fetched_url, source, title, text, content_hash) "
                "VALUES (?, ?, ?, 'pib', ?, 't', ?)",
                [
                    article,
                    f"https://news.example/{article}",
                    f"https://news.example/{article}",
                    f"On {article}",
                    article,
                ],
            )
            for i in range(chunks):
                digest = shared.get(i, f"h{article}{i}")
                conn.execute(
                    "INSERT INTO chunks (id, article_id, ordinal, text, char_start, char_end, token_count, text_hash) "
                    "VALUES (?, ?, ?, ?, 0, 1, 1, ?)",
                    [f"{article}-{i}", article, i, f"text of {digest}", digest],
                )
                conn.execute(
                    "INSERT INTO annotations (text_hash, annotator, task, prompt_version, label, label_index, probs, confidence) "
                    "VALUES (?, 'teacher', 'upsc_gs', 'v', 'GS1', 1, [0.1, 0.6, 0.1, 0.1, 0.1], 0.6)",
                    [digest],
                )
                conn.execute(
                    "INSERT INTO tags (chunk_id, text_hash, task, label, probs, confidence, decided_by, annotator) "
                    "VALUES (?, ?, 'upsc_gs', 'GS2', [0.1, 0.1, 0.6, 0.1, 0.1], 0.6, 'student', 'model:m')",
                    [f"{article}-{i}", digest],
                )


def _draw(store, article, probability, model):
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO calibration_draws (flow_run_id, article_id, probability, model_id) VALUES ('run', ?, ?, ?)",
            [article, probability, model],
        )


def _sheet(path):
    with open(path, newline="", encoding="utf-8") as sheet:
        return list(csv.DictReader(sheet))


@pytest.fixture
def calibrated(store):
    """Article a drawn on a night without a student (p 0.5), b on a night with one (p 0.25), c
    not drawn though the teacher answered all of it; a-0 is gold already and b-2 repeats a-1's
    text. The random pool: a-1, a-2, a-3, b-0, b-1 (a-1 stands for its text)."""
    _news(store, {"a": (4, {}), "b": (3, {2: "ha1"}), "c": (5, {})})
    _draw(store, "a", 0.5, None)
    _draw(store, "b", 0.25, "m-1")
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO gold_labels (chunk_id, text_hash, task, label, annotator, import_id) "
            "VALUES ('a-0', 'ha0', 'upsc_gs', 'GS2', 'p', 'i')"
        )
    return store


def test_random_draws_blind_from_calibration_chunks_only_and_the_import_stores_each_ones_chance(calibrated, tmp_path):
    """A non-calibration chunk is never drawn, teacher-answered or not; each drawn chunk's
    stored chance is its article's chance of being drawn times chosen/pool."""
    article_chance = {"a": 0.5, "b": 0.25}
    everything = tmp_path / "all.csv"
    assert export_for_review(calibrated, TASK, "random", 100, everything, "teacher", 0) == (5, 5)
    assert {r["chunk_id"] for r in _sheet(everything)} == {"a-1", "a-2", "a-3", "b-0", "b-1"}

    out = tmp_path / "random.csv"
    written, pool = export_for_review(calibrated, TASK, "random", 3, out, "teacher", 7)
    assert (written, pool) == (3, 5)
    rows = _sheet(out)
    assert len(rows) == 3 and {r["chunk_id"] for r in rows} <= {"a-1", "a-2", "a-3", "b-0", "b-1"}
    for r in rows:  # blind: no model's label, probabilities or confidence
        assert (r["teacher"], r["teacher_label"], r["teacher_probs"], r["gold_label"]) == ("", "", "", "")
        assert r["sampling"] == "random"
        assert float(r["sampling_probability"]) == pytest.approx(article_chance[r["chunk_id"][0]] * 3 / 5)
        assert r["title"] == f"On {r['chunk_id'][0]}"

    # The reviewer fills the label column of the blind sheet; import takes it as it is.
    _write(out, [{**r, "gold_label": "GS3", "annotator": "asha"} for r in rows])
    report = import_reviewed(calibrated, TASK, out, None, False, "minilm")
    assert (report.added, report.errors) == (3, [])
    with calibrated.reader() as conn:
        stored = conn.execute(
            "SELECT chunk_id, sampling, sampling_probability FROM gold_labels WHERE annotator = 'asha'"
        ).fetchall()
    assert len(stored) == 3
    for chunk_id, sampling, chance in stored:
        assert sampling == "random" and chance == pytest.approx(article_chance[chunk_id[0]] * 3 / 5)

    # What is gold now leaves the pool.
    assert export_for_review(calibrated, TASK, "random", 100, tmp_path / "rest.csv", "teacher", 0) == (2, 2)


def test_audit_draws_blind_only_from_nights_a_production_student_was_offloading(calibrated, tmp_path):
    out = tmp_path / "audit.csv"
    assert export_for_review(calibrated, TASK, "audit", 2, out, "teacher", 0) == (2, 3)  # b-0, b-1, b-2
    rows = _sheet(out)
    assert {r["chunk_id"] for r in rows} <= {"b-0", "b-1", "b-2"}
    assert {(r["sampling"], r["sampling_probability"]) for r in rows} == {("random", f"{0.25 * 2 / 3:.12g}")}
    assert {(r["teacher"], r["teacher_label"], r["teacher_probs"]) for r in rows} == {("", "", "")}

    tasks_file = tmp_path / "audit.json"
    assert export_for_review(calibrated, TASK, "audit", 5, tasks_file, "teacher", 0) == (3, 3)
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    assert {t["data"]["chunk_id"] for t in tasks} == {"b-0", "b-1", "b-2"}
    assert all(t["predictions"] == [] for t in tasks)  # no pre-annotation: the reviewer labels blind
    assert [t["data"]["sampling_probability"] for t in tasks] == pytest.approx([0.25] * 3)


def test_random_and_audit_without_calibration_draws_say_to_run_the_tag_flow(store, tmp_path):
    _news(store, {"a": (3, {})})  # answered and tagged, never drawn for calibration
    for strategy in ("random", "audit"):
        with pytest.raises(InputError) as refused:
            export_for_review(store, TASK, strategy, 5, tmp_path / "out.csv", "teacher", 0)
        assert str(refused.value) == (
            "no calibration articles yet: run the tag flow (`upscway run tag`), "
            "which draws cascade.calibration_rate of each night's articles"
        )
    assert not (tmp_path / "out.csv").exists()

    _draw(store, "a", 0.1, None)  # a night without a production student: random, but no audit yet
    with pytest.raises(InputError, match="no calibration articles from a night a production student"):
        export_for_review(store, TASK, "audit", 5, tmp_path / "out.csv", "teacher", 0)
    assert export_for_review(store, TASK, "random", 5, tmp_path / "out.csv", "teacher", 0) == (3, 3)


def test_a_blind_draw_cannot_be_chosen_by_a_models_label_but_uncertainty_still_shows_it(calibrated, tmp_path):
    with pytest.raises(InputError, match="--label"):
        export_for_review(calibrated, TASK, "random", 5, tmp_path / "out.csv", "teacher", 0, label="GS1")
    out = tmp_path / "uncertain.csv"
    export_for_review(calibrated, TASK, "uncertainty", 3, out, "teacher", 0, label="GS1")
    assert {(r["teacher"], r["teacher_label"], r["sampling"], r["sampling_probability"]) for r in _sheet(out)} == {
        ("teacher", "GS1", "uncertainty", "")
    }
