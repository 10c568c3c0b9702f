"""`upscway gold export|import` on a real store: the bundled set, validation, history, kappa."""

import csv
import json
import re
import subprocess
import sys

import pytest
from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import child_env
from upscway.resources import DEPLOYMENTS_DIR
from upscway.storage.store import Store

GOLD = DEPLOYMENTS_DIR / "demo" / "gold.csv"


def _runner(home):
    """`upscway ARGS` in a process of its own, on the data directory under `home`."""
    env = child_env()
    env.update(UPSCWAY_DATA_DIR=str(home / "data"), PREFECT_API_URL=PREFECT_API_URL.value())

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "upscway.cli", *args], capture_output=True, text=True, env=env, timeout=300
        )

    return run


@pytest.fixture
def cli(tmp_path):
    return _runner(tmp_path)


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    """The demo news ingested and annotated by the CLI once, for the export tests of this module."""
    home = tmp_path_factory.mktemp("annotated")
    run = _runner(home)
    assert run("run", "ingest").returncode == 0
    assert run("run", "annotate").returncode == 0
    return home, run


def rows(tmp_path, query):
    with Store(tmp_path / "data" / "upscway.duckdb").reader() as conn:
        return conn.execute(query).fetchall()


def test_review_round_trip(cli, tmp_path):
    first = cli("gold", "import", str(GOLD))
    assert first.returncode == 0, first.stderr
    assert "imported 248 labels" in first.stdout
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT chunk_id) FROM gold_current") == [(248, 248)]
    assert rows(
        tmp_path, "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id WHERE a.source = 'gold'"
    ) == [(248,)]
    assert rows(tmp_path, "SELECT sampling, count(*) FROM gold_labels GROUP BY ALL") == [
        ("authored", 248)
    ]  # written, not drawn
    again = cli("gold", "import", str(GOLD))
    assert "0 labels" in again.stdout and "248 unchanged" in again.stdout

    # A second person relabels ten chunks (three differently), and one of them changes their mind.
    chunks = rows(tmp_path, "SELECT chunk_id, label FROM gold_current ORDER BY chunk_id LIMIT 10")
    second = tmp_path / "second.csv"
    with open(second, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(
            ["chunk_id", "text", "source_url", "teacher_label", "teacher_probs", "gold_label", "annotator", "note"]
        )
        for i, (chunk_id, label) in enumerate(chunks):
            w.writerow([chunk_id, "", "", "", "", "GS4" if i < 3 and label != "GS4" else label, "ravi", ""])
    assert cli("gold", "import", str(second)).returncode == 0
    changed = tmp_path / "changed.csv"
    changed.write_text(f"chunk_id,gold_label,annotator,text\n{chunks[0][0]},{chunks[0][1]},ravi,\n")
    report = cli("gold", "import", str(changed))
    assert "agreement ravi vs upscway-demo: 10 chunks, Cohen's kappa" in report.stdout
    assert rows(
        tmp_path, f"SELECT count(*) FROM gold_labels WHERE chunk_id = '{chunks[0][0]}' AND annotator = 'ravi'"
    ) == [(2,)]
    assert rows(
        tmp_path, f"SELECT label FROM gold_current WHERE chunk_id = '{chunks[0][0]}' AND annotator = 'ravi'"
    ) == [(chunks[0][1],)]


def test_bad_rows_are_reported_and_nothing_is_imported_unless_skipped(cli, tmp_path):
    cli("gold", "import", str(GOLD))
    (chunk_id,) = rows(tmp_path, "SELECT chunk_id FROM gold_current LIMIT 1")[0]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"chunk_id,text,gold_label,annotator\n{chunk_id},,GS3,meera\n{chunk_id},,GS7,meera\nmissing-chunk,,GS1,meera\n"
    )
    before = rows(tmp_path, "SELECT count(*) FROM gold_labels")

    refused = cli("gold", "import", str(bad))
    assert refused.returncode == 2
    assert f"{bad}:3: gold_label 'GS7'" in refused.stderr and f"{bad}:4: chunk_id 'missing-chunk'" in refused.stderr
    assert "nothing imported" in refused.stderr
    assert rows(tmp_path, "SELECT count(*) FROM gold_labels") == before

    skipped = cli("gold", "import", str(bad), "--skip-invalid")
    assert skipped.returncode == 1 and "2 invalid rows skipped" in skipped.stdout
    assert rows(tmp_path, "SELECT count(*) FROM gold_labels WHERE annotator = 'meera'") == [(1,)]


def test_export_shows_the_named_teacher_with_the_article_and_a_partly_labelled_sheet_imports(annotated, tmp_path):
    home, cli = annotated
    out = tmp_path / "review.csv"
    result = cli("gold", "export", "--strategy", "uncertainty", "--n", "20", "--out", str(out))
    assert result.returncode == 0, result.stderr
    teacher = "embedding:all-MiniLM-L6-v2@T0.05"
    assert f"answered by {teacher}" in result.stdout
    with open(out, newline="") as f:
        exported = list(csv.DictReader(f))
    assert len(exported) == 20
    assert list(exported[0]) == [
        "chunk_id",
        "text",
        "title",
        "source_url",
        "date",
        "teacher",
        "teacher_label",
        "teacher_probs",
        "sampling",
        "sampling_probability",
        "gold_label",
        "annotator",
        "note",
    ]
    assert all(
        r["sampling"] == "uncertainty" and r["sampling_probability"] == "" for r in exported
    )  # chosen, not drawn
    assert all(r["teacher"] == teacher and r["title"] and r["source_url"].startswith("https://") for r in exported)
    confidences = [max(json.loads(r["teacher_probs"]).values()) for r in exported]
    assert confidences == sorted(confidences)
    unknown = cli("gold", "export", "--n", "5", "--out", str(out), "--annotator", "the-teacher")
    assert unknown.returncode == 2 and f"known: {teacher}" in unknown.stderr

    # A reviewer labels 5 of the 20 rows (labels in lower case), leaves the rest blank.
    for row, label in zip(exported, ["gs1", "gs2", "Gs3", "GS4", "not_relevant"]):
        row["gold_label"] = label
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(exported[0]))
        writer.writeheader()
        writer.writerows(exported)
    imported = cli("gold", "import", str(out), "--annotator", "meera")
    assert imported.returncode == 0, imported.stderr
    assert "imported 5 labels" in imported.stdout and "15 rows left blank, 0 invalid" in imported.stdout
    assert rows(home, "SELECT label FROM gold_current WHERE annotator = 'meera' ORDER BY label") == [
        ("GS1",),
        ("GS2",),
        ("GS3",),
        ("GS4",),
        ("NOT_RELEVANT",),
    ]


def test_label_studio_round_trip(annotated, tmp_path):
    """Tasks exported for Label Studio carry the teacher's answer as a prediction; Label
    Studio's JSON export of the reviewed project (shaped as it writes it) imports back."""
    home, cli = annotated
    tasks_file = tmp_path / "tasks.json"
    assert cli("gold", "export", "--n", "3", "--out", str(tasks_file)).returncode == 0
    tasks = json.loads(tasks_file.read_text())
    assert len(tasks) == 3 and tasks[0]["predictions"][0]["model_version"].startswith("embedding:")
    predicted = tasks[0]["predictions"][0]["result"][0]
    assert predicted["type"] == "choices" and predicted["from_name"] == "label" and predicted["to_name"] == "text"
    # What Label Studio 1.x writes for "Export > JSON": ids, the task data, and per annotation
    # the reviewer, the result list, timestamps and flags; one task accepted as predicted,
    # one changed, one skipped (cancelled, no result).
    export = []
    for i, task in enumerate(tasks):
        label = task["predictions"][0]["result"][0]["value"]["choices"][0]
        result = (
            []
            if i == 2
            else [
                {
                    "value": {"choices": [label if i == 0 else ("GS1" if label != "GS1" else "GS2")]},
                    "id": f"r{i}",
                    "from_name": "label",
                    "to_name": "text",
                    "type": "choices",
                    "origin": "prediction" if i == 0 else "manual",
                }
            ]
        )
        export.append(
            {
                "id": 100 + i,
                "annotations": [
                    {
                        "id": 200 + i,
                        "completed_by": {"id": 1, "email": "asha@example.org", "first_name": "", "last_name": ""},
                        "result": result,
                        "was_cancelled": i == 2,
                        "ground_truth": False,
                        "created_at": "2026-11-24T10:00:00.000000Z",
                        "updated_at": "2026-11-24T10:00:00.000000Z",
                        "lead_time": 4.2,
                        "prediction": {},
                        "result_count": len(result),
                        "task": 100 + i,
                        "project": 1,
                    }
                ],
                "drafts": [],
                "predictions": [300 + i],
                "data": task["data"],
                "meta": {},
                "created_at": "2026-11-24T09:00:00.000000Z",
                "updated_at": "2026-11-24T10:00:00.000000Z",
                "inner_id": i + 1,
                "total_annotations": 1,
                "cancelled_annotations": int(i == 2),
                "total_predictions": 1,
                "comment_count": 0,
                "unresolved_comment_count": 0,
                "last_comment_updated_at": None,
                "project": 1,
                "updated_by": 1,
                "file_upload": None,
                "comment_authors": [],
            }
        )
    reviewed = tmp_path / "project-1-at-2026-11-24.json"
    reviewed.write_text(json.dumps(export))
    imported = cli("gold", "import", str(reviewed))
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 labels" in imported.stdout and "1 rows left blank" in imported.stdout
    assert rows(home, "SELECT count(*) FROM gold_current WHERE annotator = 'asha@example.org'") == [(2,)]


def test_a_sheet_of_thousands_of_bad_rows_gets_a_bounded_report_and_a_bad_export_one_line(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("chunk_id,text,gold_label,annotator\n" + "".join(f"nope-{i},,GS1,asha\n" for i in range(5000)))
    refused = cli("gold", "import", str(bad))
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) <= 25 and f"{bad}:2: chunk_id 'nope-0' is not in the store" in refused.stderr
    assert "and 4980 more invalid rows (5000 in all)" in refused.stderr and "nothing imported" in refused.stderr

    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"data": {"chunk_id": "c1"}, "annotations": "GS1"}]))
    wrong = cli("gold", "import", str(export))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert f"{export}: task 1 is not a Label Studio task" in wrong.stderr


def test_a_random_export_records_each_chunks_chance_of_being_drawn_through_the_import(annotated, tmp_path):
    """`--strategy random` draws, blind, from the chunks of the articles drawn for calibration
    only; each row's chance is its article's (0.5 here) times chosen/pool, through the import."""
    home, cli = annotated
    out = tmp_path / "random.csv"
    refused = cli("gold", "export", "--strategy", "random", "--n", "10", "--out", str(out))
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 2 and "no calibration articles yet: run the tag flow (`upscway run tag`)" in said
    articles = [a for (a,) in rows(home, "SELECT id FROM articles WHERE source <> 'gold' ORDER BY id")]
    drawn = set(articles[::2])  # every other article, as if a tag run had drawn it at rate 0.5
    with Store(home / "data" / "upscway.duckdb").transaction() as conn:
        for article in sorted(drawn):
            conn.execute(
                "INSERT INTO calibration_draws (flow_run_id, article_id, probability) VALUES ('run', ?, 0.5)", [article]
            )
    result = cli("gold", "export", "--strategy", "random", "--n", "10", "--seed", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    candidates = int(re.search(r"of\s+(\d+)\s+answered", result.stdout).group(1))
    with open(out, newline="", encoding="utf-8") as f:
        sheet = list(csv.DictReader(f))
    assert len(sheet) == 10 and {r["sampling"] for r in sheet} == {"random"}
    assert all(float(r["sampling_probability"]) == pytest.approx(0.5 * 10 / candidates) for r in sheet)
    assert {(r["teacher"], r["teacher_label"], r["teacher_probs"]) for r in sheet} == {("", "", "")}  # blind
    ids = ", ".join(f"'{r['chunk_id']}'" for r in sheet)
    assert {a for (a,) in rows(home, f"SELECT DISTINCT article_id FROM chunks WHERE id IN ({ids})")} <= drawn
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(sheet[0]))
        writer.writeheader()
        writer.writerows({**r, "gold_label": "GS2", "annotator": "asha"} for r in sheet)
    imported = cli("gold", "import", str(out))
    assert imported.returncode == 0, imported.stderr
    stored = rows(home, "SELECT sampling, sampling_probability FROM gold_current WHERE annotator = 'asha'")
    assert len(stored) == 10 and all(s == "random" and p == pytest.approx(0.5 * 10 / candidates) for s, p in stored)
