"""`upscway annotate import` on a real store: answers computed elsewhere stored exactly once
under the named annotator and the import's id, every line checked first (one bad line and
nothing is stored, exit 2), and a process SIGKILLed while it stores leaving all or nothing."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.integration.conftest import child_env, rows
from upscway.errors import InputError
from upscway.hashing import text_hash
from upscway.storage.store import Store
from upscway.tasks.annotate.imports import import_answers
from upscway.tasks.annotate.recorded import InvalidAnswers
from upscway.taxonomy import load_task

TASK = load_task()
MODEL = "Qwen/Qwen2.5-72B-Instruct"


def _chunks(store: Store, texts: list[str], article: str = "a") -> list[str]:
    """One article whose chunks `<article>-<i>` hold `texts`; returns their ids."""
    ids = [f"{article}-{i}" for i in range(len(texts))]
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO articles (id, canonical_url, fetched_url, source, text, content_hash) VALUES (?, ?, ?, 'pib', 't', ?)",
            [article, f"https://news.example/{article}", f"https://news.example/{article}", article],
        )
        conn.execute(
            "INSERT INTO chunks (id, article_id, ordinal, text, char_start, char_end, token_count, text_hash) "
            "SELECT unnest($ids), $article, unnest(range(len($ids))), unnest($texts), 0, 1, 1, unnest($hashes)",
            {"ids": ids, "article": article, "texts": texts, "hashes": [text_hash(t) for t in texts]},
        )
    return ids


def _answers(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps({"model": MODEL, "prompt_version": TASK.version, **x}) + "\n" for x in lines))
    return path


TEXTS = [f"Chunk {i}: the ministry said the scheme now covers {i} districts." for i in range(4)]


def test_an_import_stores_each_answer_once_under_the_annotator_and_the_import_id(store, tmp_path):
    ids = _chunks(store, TEXTS)
    file = _answers(
        tmp_path / "batch.jsonl",
        [
            {"text_hash": text_hash(TEXTS[0]), "label": "GS2", "tokens_in": 210, "latency_ms": 41.5},
            {"chunk_id": ids[1], "probs": {"GS3": 0.75, "NOT_RELEVANT": 0.25}, "rationale": "budget"},
            {"chunk_id": ids[2], "probs": [0.2, 0.2, 0.2, 0.2, 0.2], "model": "other/model"},
            {"text_hash": text_hash(TEXTS[0]), "label": "GS2", "tokens_in": 210, "latency_ms": 41.5},  # repeated
        ],
    )

    done = import_answers(store, TASK, file, "qwen-batch")

    assert (done.added, done.unchanged, done.lines, done.models) == (
        3,
        0,
        4,
        ("Qwen/Qwen2.5-72B-Instruct", "other/model"),
    )
    assert done.import_id.startswith("import:") and len(done.import_id) == len("import:") + 12
    stored = rows(
        store,
        "SELECT text_hash, annotator, task, prompt_version, label, label_index, probs, rationale, tokens_in, "
        "latency_ms, flow_run_id FROM annotations ORDER BY label_index",
    )
    assert stored == [
        (
            text_hash(TEXTS[2]),
            "qwen-batch",
            "upsc_gs",
            TASK.version,
            "NOT_RELEVANT",
            0,
            [0.2] * 5,
            None,
            0,
            0.0,
            done.import_id,
        ),
        (
            text_hash(TEXTS[0]),
            "qwen-batch",
            "upsc_gs",
            TASK.version,
            "GS2",
            2,
            [0, 0, 1, 0, 0],
            None,
            210,
            41.5,
            done.import_id,
        ),
        (
            text_hash(TEXTS[1]),
            "qwen-batch",
            "upsc_gs",
            TASK.version,
            "GS3",
            3,
            [0.25, 0, 0, 0.75, 0],
            "budget",
            0,
            0.0,
            done.import_id,
        ),
    ]
    assert rows(
        store,
        "SELECT import_id, file, annotator, task, prompt_version, models, lines, added, unchanged FROM answer_imports",
    ) == [
        (
            done.import_id,
            str(file),
            "qwen-batch",
            "upsc_gs",
            TASK.version,
            ["Qwen/Qwen2.5-72B-Instruct", "other/model"],
            4,
            3,
            0,
        )
    ]

    again = import_answers(store, TASK, file, "qwen-batch")
    assert (again.added, again.unchanged) == (0, 3) and again.import_id != done.import_id
    assert rows(store, "SELECT count(*), count(DISTINCT text_hash) FROM annotations") == [(3, 3)]
    assert rows(store, "SELECT added, unchanged FROM answer_imports ORDER BY created_at") == [(3, 0), (0, 3)]


def test_chunks_the_store_lacks_and_one_text_answered_twice_differently_are_refused_storing_nothing(store, tmp_path):
    ids = _chunks(store, TEXTS)
    twin = _chunks(store, [TEXTS[3]], article="b")[0]  # another article's chunk with chunk 3's text
    file = _answers(
        tmp_path / "batch.jsonl",
        [
            {"text_hash": text_hash(TEXTS[0]), "label": "GS1"},
            {"chunk_id": "a-99", "label": "GS1"},
            {"text_hash": text_hash("a text no chunk has"), "label": "GS1"},
            {"chunk_id": ids[3], "label": "GS4"},
            {"chunk_id": twin, "label": "GS1"},
            {"chunk_id": ids[2], "label": "GS5"},
        ],
    )

    with pytest.raises(InvalidAnswers) as refused:
        import_answers(store, TASK, file, "qwen-batch")

    assert refused.value.errors == [
        (2, "chunk_id 'a-99' is not a stored chunk's id"),
        (3, f"text_hash {text_hash('a text no chunk has')} is no stored chunk's: no chunk has that text"),
        (5, "chunk_id 'b-0' has the text of line 4's chunk, which that line answers differently"),
        (6, "label 'GS5' is not one of NOT_RELEVANT, GS1, GS2, GS3, GS4"),
    ]
    assert str(refused.value).startswith(f"4 of 6 lines of the answers file {file} are invalid; nothing imported:")
    assert rows(store, "SELECT (SELECT count(*) FROM annotations), (SELECT count(*) FROM answer_imports)") == [(0, 0)]

    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match=f"the answers file {tmp_path}/empty.jsonl has no answers"):
        import_answers(store, TASK, tmp_path / "empty.jsonl", "qwen-batch")


def _cli(data: Path):
    env = {**child_env(), "UPSCWAY_DATA_DIR": str(data)}
    command = [sys.executable, "-m", "upscway.cli", "annotate", "import"]
    return env, command


def test_the_cli_refuses_a_file_with_one_bad_line_with_exit_2_naming_it(store, tmp_path):
    _chunks(store, TEXTS)
    lines = [{"text_hash": text_hash(t), "label": "GS1"} for t in TEXTS]
    lines[2]["labl"] = "GS2"
    file = _answers(tmp_path / "batch.jsonl", lines)
    env, command = _cli(tmp_path)

    refused = subprocess.run(
        [*command, str(file), "--annotator", "qwen-batch"], env=env, capture_output=True, text=True, timeout=120
    )

    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    said = refused.stderr
    assert f"1 of 4 lines of the answers file {file} are invalid; nothing imported" in said
    assert f"{file}:3: unknown key 'labl'" in said
    assert rows(store, "SELECT (SELECT count(*) FROM annotations), (SELECT count(*) FROM answer_imports)") == [(0, 0)]

    no_annotator = subprocess.run([*command, str(file)], env=env, capture_output=True, text=True, timeout=120)
    assert no_annotator.returncode == 2 and "--annotator" in no_annotator.stderr


KILLED_LINES = 12_000  # enough that storing them takes a good part of a second


def _holds_write_lock(path: Path) -> bool:
    """Whether another process has the database open for writing (a read-only open is refused)."""
    try:
        duckdb.connect(str(path), read_only=True).close()
        return False
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        return True


def _wait(condition, what: str, process: subprocess.Popen, log: Path, timeout_s: float = 120, every_s: float = 0.01):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        assert process.poll() is None, f"the import ended before {what}: {log.read_text()[-2000:]}"
        time.sleep(every_s)
    raise AssertionError(f"not seen within {timeout_s} s: {what}; {log.read_text()[-2000:]}")


def test_an_import_killed_while_it_stores_leaves_all_or_nothing_and_a_rerun_stores_each_once(
    store, tmp_path, record_property
):
    texts = [f"Chunk {i}: the ministry said the scheme now covers {i} districts." for i in range(KILLED_LINES)]
    _chunks(store, texts)
    file = _answers(
        tmp_path / "batch.jsonl",
        [{"text_hash": text_hash(t), "probs": [0.1, 0.2, 0.3, 0.25, 0.15], "tokens_in": 200} for t in texts],
    )
    env, command = _cli(tmp_path)
    command = [*command, str(file), "--annotator", "qwen-batch"]
    log = tmp_path / "killed.log"

    with open(log, "wb") as out:
        victim = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        # Every line checked; the transaction that stores them is about to open, then held.
        _wait(lambda: "storing them under qwen-batch" in log.read_text(), "the check of every line", victim, log)
        deadline = time.monotonic() + 60
        while victim.poll() is None and not _holds_write_lock(store.path) and time.monotonic() < deadline:
            time.sleep(0.002)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()

    stored, imports = rows(store, "SELECT (SELECT count(*) FROM annotations), (SELECT count(*) FROM answer_imports)")[0]
    assert (stored, imports) in ((0, 0), (KILLED_LINES, 1)), (stored, imports)
    record_property(
        "simulation", f"annotate import SIGKILLed while storing: {stored} of {KILLED_LINES} answers survived"
    )

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"added {KILLED_LINES - stored} answers" in rerun.stdout
    assert rows(store, "SELECT count(*), count(DISTINCT text_hash), count(DISTINCT flow_run_id) FROM annotations") == [
        (KILLED_LINES, KILLED_LINES, 1)
    ]

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"added 0 answers: all {KILLED_LINES} were already stored" in again.stdout
    assert f"{KILLED_LINES} lines of {file}; annotator qwen-batch" in again.stdout
    assert rows(store, "SELECT count(*) FROM annotations") == [(KILLED_LINES,)]
