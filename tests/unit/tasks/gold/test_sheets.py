import csv
import json

import pytest

from upscway.errors import InputError
from upscway.records import Candidate, GoldRow
from upscway.resources import DEPLOYMENTS_DIR
from upscway.tasks.gold.sheets import cohen_kappa, read_csv, read_label_studio, select, validate, write_csv
from upscway.taxonomy import load_task

TASK = load_task()


def test_bundled_gold_set_covers_every_label():
    rows = read_csv(DEPLOYMENTS_DIR / "demo" / "gold.csv")
    counts = {name: sum(r.gold_label == name for r in rows) for name in TASK.names}
    assert len(rows) >= 200 and min(counts.values()) >= 20
    assert len({r.text for r in rows}) == len(rows)
    valid, errors = validate(rows, TASK, {})
    assert errors == [] and len(valid) == len(rows)


def _candidates():
    return [
        Candidate(f"c{i}", f"text {i}", "u", "GS2", [0.1] * 5, conf, f"h{i}")
        for i, conf in enumerate([0.9, 0.3, 0.6, 0.45])
    ]


def test_selection_strategies():
    cands = _candidates()
    assert [c.chunk_id for c in select(cands, "uncertainty", 2)] == ["c1", "c3"]
    assert [c.chunk_id for c in select(cands, "disagreement", 5, disagreeing={"h0", "h2"})] == ["c2", "c0"]
    picked = select(cands, "random", 3, seed=1)
    assert len(picked) == 3 and picked == select(cands, "random", 3, seed=1)
    with pytest.raises(InputError, match="--strategy"):
        select(cands, "loudest", 1)


def test_a_blind_sheet_shows_no_answer_and_carries_each_rows_chance_and_an_older_sheet_still_reads(tmp_path):
    cands = _candidates()[:3]
    sheet = tmp_path / "blind.csv"
    write_csv(sheet, cands, TASK, "random", [0.5, 0.25, 0.125], blind=True)
    with open(sheet, newline="", encoding="utf-8") as lines:
        raw = list(csv.DictReader(lines))
    assert {(r["teacher"], r["teacher_label"], r["teacher_probs"]) for r in raw} == {("", "", "")}
    labelled = tmp_path / "labelled.csv"
    with open(labelled, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(raw[0]))
        writer.writeheader()
        writer.writerows({**r, "gold_label": "GS1", "annotator": "asha"} for r in raw)
    rows = read_csv(labelled)
    assert [(r.chunk_id, r.sampling, r.sampling_probability) for r in rows] == [
        ("c0", "random", 0.5),
        ("c1", "random", 0.25),
        ("c2", "random", 0.125),
    ]
    valid, errors = validate(rows, TASK, {c.chunk_id: c.text for c in cands})
    assert errors == [] and len(valid) == 3

    shown = tmp_path / "shown.csv"
    write_csv(shown, cands, TASK, "uncertainty")
    with open(shown, newline="", encoding="utf-8") as lines:
        assert {(r["teacher_label"], r["sampling_probability"]) for r in csv.DictReader(lines)} == {("GS2", "")}
    with pytest.raises(ValueError, match="2 sampling probabilities for 3 rows"):
        write_csv(sheet, cands, TASK, "random", [0.5, 0.25])

    older = tmp_path / "older.csv"  # a sheet from before the sampling columns
    older.write_text("chunk_id,text,teacher_label,gold_label,annotator\nc1,,GS2,GS2,asha\n", encoding="utf-8")
    (row,) = read_csv(older)
    assert (row.sampling, row.sampling_probability) == ("", None)


def test_validation_reports_each_bad_row_with_its_line():
    rows = [
        GoldRow(2, "c1", "same text", "GS2", "asha"),
        GoldRow(3, "c1", "", "GS9", "asha"),
        GoldRow(4, "c1", "", "", "asha"),
        GoldRow(5, "c1", "", "GS1", ""),
        GoldRow(6, "nope", "", "GS1", "asha"),
        GoldRow(7, "c1", "different text", "GS1", "asha"),
        GoldRow(8, "", "", "GS1", "asha"),
        GoldRow(9, "", "A brand new paragraph.", "GS3", "asha"),
    ]
    valid, errors = validate(rows, TASK, {"c1": "same text"})
    assert [r.line for r in valid] == [2, 9]
    assert [line for line, _ in errors] == [3, 4, 5, 6, 7, 8]
    reasons = dict(errors)
    assert "GS9" in reasons[3] and "empty" in reasons[4] and "annotator" in reasons[5]
    assert "not in the store" in reasons[6] and "differs" in reasons[7] and "neither" in reasons[8]


def test_a_csv_saved_by_excel_with_a_bom_and_labels_in_any_case_reads(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "chunk_id,text,gold_label,annotator\r\n,A new paragraph on the monsoon.,gs1,asha\r\n,Another one.,Not_Relevant,asha\r\n".encode(
            "utf-8-sig"
        )
    )
    rows = read_csv(path)
    valid, errors = validate(rows, TASK, {})
    assert errors == [] and [r.gold_label for r in valid] == ["GS1", "NOT_RELEVANT"]


def test_csv_without_required_columns_is_an_input_error(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("id,label\n1,GS2\n")
    with pytest.raises(InputError, match="missing column"):
        read_csv(path)


def test_label_studio_export(tmp_path):
    path = tmp_path / "ls.json"
    path.write_text(
        json.dumps(
            [
                {
                    "data": {"chunk_id": "c1", "text": "t"},
                    "annotations": [
                        {
                            "completed_by": {"email": "asha@example.org"},
                            "result": [{"from_name": "label", "value": {"choices": ["GS2"]}}],
                        },
                        {"completed_by": 7, "result": [{"value": {"choices": ["GS3"]}}]},
                    ],
                },
                {"data": {"chunk_id": "c2"}, "annotations": [{"completed_by": 7, "result": []}]},
            ]
        )
    )
    rows = read_label_studio(path)
    assert [(r.line, r.chunk_id, r.gold_label, r.annotator) for r in rows] == [
        (1, "c1", "GS2", "asha@example.org"),
        (1, "c1", "GS3", "7"),
        (2, "c2", "", "7"),
    ]


def test_cohen_kappa_hand_computed():
    # 10 items: agree on 7; rater a: 5 x, 5 y; rater b: 4 x, 6 y -> pe = (5*4 + 5*6)/100 = 0.5
    a = list("xxxxxyyyyy")
    b = list("xxxyyyyyyx")
    assert cohen_kappa(a, b) == pytest.approx((0.7 - 0.5) / 0.5)
    assert cohen_kappa(list("xyz"), list("xyz")) == 1.0
    assert cohen_kappa(list("xx"), list("xx")) == 1.0
    assert cohen_kappa([], []) is None
