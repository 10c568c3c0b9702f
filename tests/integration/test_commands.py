"""`upscway gold export|import` on a real store: the bundled set, validation, history, kappa."""

import csv
import json
import os
import subprocess
import sys

import pytest
from prefect.settings import PREFECT_API_URL

from upscway.resources import DEPLOYMENTS_DIR
from upscway.storage.store import Store

GOLD = DEPLOYMENTS_DIR / "demo" / "gold.csv"


@pytest.fixture
def cli(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPSCWAY_")}
    env.update(UPSCWAY_DATA_DIR=str(tmp_path / "data"), PREFECT_API_URL=PREFECT_API_URL.value())

    def run(*args):
        return subprocess.run([sys.executable, "-m", "upscway.flows.cli", *args], capture_output=True, text=True, env=env, timeout=300)

    return run


def rows(tmp_path, query):
    with Store(tmp_path / "data" / "upscway.duckdb").reader() as conn:
        return conn.execute(query).fetchall()


def test_review_round_trip(cli, tmp_path):
    first = cli("gold", "import", str(GOLD))
    assert first.returncode == 0, first.stderr
    assert "imported 200 labels" in first.stdout
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT chunk_id) FROM gold_current") == [(200, 200)]
    assert rows(tmp_path, "SELECT count(*) FROM chunks c JOIN articles a ON a.id = c.article_id WHERE a.source = 'gold'") == [(200,)]
    again = cli("gold", "import", str(GOLD))
    assert "0 labels" in again.stdout and "200 unchanged" in again.stdout

    # A second person relabels ten chunks (three differently), and one of them changes their mind.
    chunks = rows(tmp_path, "SELECT chunk_id, label FROM gold_current ORDER BY chunk_id LIMIT 10")
    second = tmp_path / "second.csv"
    with open(second, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["chunk_id", "text", "source_url", "teacher_label", "teacher_probs", "gold_label", "annotator", "note"])
        for i, (chunk_id, label) in enumerate(chunks):
            w.writerow([chunk_id, "", "", "", "", "GS4" if i < 3 and label != "GS4" else label, "ravi", ""])
    assert cli("gold", "import", str(second)).returncode == 0
    changed = tmp_path / "changed.csv"
    changed.write_text(f"chunk_id,gold_label,annotator,text\n{chunks[0][0]},{chunks[0][1]},ravi,\n")
    report = cli("gold", "import", str(changed))
    assert "agreement ravi vs upscway-demo: 10 chunks, Cohen's kappa" in report.stdout
    assert rows(tmp_path, f"SELECT count(*) FROM gold_labels WHERE chunk_id = '{chunks[0][0]}' AND annotator = 'ravi'") == [(2,)]
    assert rows(tmp_path, f"SELECT label FROM gold_current WHERE chunk_id = '{chunks[0][0]}' AND annotator = 'ravi'") == [(chunks[0][1],)]


def test_bad_rows_are_reported_and_nothing_is_imported_unless_skipped(cli, tmp_path):
    cli("gold", "import", str(GOLD))
    (chunk_id,) = rows(tmp_path, "SELECT chunk_id FROM gold_current LIMIT 1")[0]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "chunk_id,text,gold_label,annotator\n"
        f"{chunk_id},,GS3,meera\n"
        f"{chunk_id},,GS7,meera\n"
        "missing-chunk,,GS1,meera\n"
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


def test_export_strategies_write_the_documented_columns(cli, tmp_path):
    assert cli("run", "ingest").returncode == 0
    assert cli("run", "annotate").returncode == 0
    out = tmp_path / "review.csv"
    result = cli("gold", "export", "--strategy", "uncertainty", "--n", "5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as f:
        exported = list(csv.DictReader(f))
    assert len(exported) == 5
    assert list(exported[0]) == ["chunk_id", "text", "source_url", "teacher_label", "teacher_probs", "gold_label", "annotator", "note"]
    confidences = [max(json.loads(r["teacher_probs"]).values()) for r in exported]
    assert confidences == sorted(confidences)
    assert all(r["source_url"].startswith("https://") for r in exported)
