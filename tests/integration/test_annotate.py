"""The annotate flow on a real store: embedding teacher offline, openai teacher against the
loopback server, the recorded teacher from a file of answers, idempotence, failures, no key
anywhere, and a SIGKILLed run resumed."""

import json
import logging
import signal
import subprocess
import sys
import time

import pytest
from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import child_env
from tests.support.openai_server import HOSTILE_REPLIES, LETTERS, OpenAIServer, hashed_label, hostile
from upscway.flows.annotate import annotate
from upscway.flows.context import COMPLETED_WITH_FAILURES
from upscway.flows.ingest import ingest
from upscway.storage.store import Store
from upscway.tasks.annotate.imports import import_answers
from upscway.taxonomy import load_task

KEY = "sk-secret-annotate-0987654321"


@pytest.fixture
def demo_store(tmp_path, monkeypatch):
    """The demo's sample news ingested into a fresh store (snapshot fetcher, offline)."""
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "data"))
    ingest(return_state=True).result()
    return Store(tmp_path / "data" / "upscway.duckdb")


def rows(store, query, *params):
    with store.reader() as conn:
        return conn.execute(query, list(params)).fetchall()


def test_embedding_teacher_annotates_every_text_once(demo_store):
    distinct = rows(demo_store, "SELECT count(DISTINCT text_hash) FROM chunks")[0][0]

    first = annotate(return_state=True).result()
    again = annotate(return_state=True).result()

    assert first.annotated == distinct and first.failures == 0
    assert sum(first.labels.values()) == distinct
    assert again.to_annotate == 0 and again.annotated == 0
    assert rows(demo_store, "SELECT count(*), count(DISTINCT text_hash) FROM annotations") == [(distinct, distinct)]
    (annotator, version, n_probs, total) = rows(
        demo_store,
        "SELECT any_value(annotator), any_value(prompt_version), max(len(probs)), min(list_sum(probs)) FROM annotations",
    )[0]
    assert annotator.startswith("embedding:") and len(version) == 12 and n_probs == 5 and total == pytest.approx(1.0)
    assert rows(demo_store, "SELECT count(*) FROM chunk_annotations") == rows(demo_store, "SELECT count(*) FROM chunks")


def test_the_recorded_teacher_stores_its_files_answers_as_an_import_would_and_fails_texts_it_lacks(
    demo_store, tmp_path, monkeypatch
):
    task = load_task()
    hashes = [h for (h,) in rows(demo_store, "SELECT DISTINCT text_hash FROM chunks ORDER BY 1")]
    lacking, answered = hashes[:2], hashes[2:]
    file = tmp_path / "qwen-batch.jsonl"
    file.write_text(
        "".join(
            json.dumps(
                {
                    "text_hash": h,
                    "probs": [0.6 if i == n % 5 else 0.1 for i in range(5)],
                    "model": "Qwen/Qwen2.5-72B-Instruct",
                    "prompt_version": task.version,
                    "tokens_in": 100 + n,
                }
            )
            + "\n"
            for n, h in enumerate(answered)
        )
    )
    monkeypatch.setenv("UPSCWAY_TEACHER__BACKEND", "recorded")
    monkeypatch.setenv("UPSCWAY_TEACHER__ANSWERS_FILE", str(file))

    state = annotate(return_state=True)

    assert state.name == COMPLETED_WITH_FAILURES
    summary = state.result()
    assert (summary.annotator, summary.annotated, summary.failures) == ("recorded:qwen-batch", len(answered), 2)
    stored = dict(
        rows(demo_store, "SELECT text_hash, label_index FROM annotations WHERE annotator = 'recorded:qwen-batch'")
    )
    assert stored == {h: n % 5 for n, h in enumerate(answered)}
    assert rows(demo_store, "SELECT substr(item, 11), reason FROM failures WHERE stage = 'annotate' ORDER BY 1") == [
        (h, "no recorded answer for this text") for h in lacking
    ]

    # The same file imported: the same rows; and a run under the import's annotator asks only for the rest.
    import_answers(demo_store, task, file, "qwen-import")
    columns = "text_hash, label, label_index, probs, confidence, off_label_mass, rationale, tokens_in, tokens_out, cost"
    assert rows(demo_store, f"SELECT {columns} FROM annotations WHERE annotator = 'qwen-import' ORDER BY 1") == rows(
        demo_store, f"SELECT {columns} FROM annotations WHERE annotator = 'recorded:qwen-batch' ORDER BY 1"
    )
    monkeypatch.setenv("UPSCWAY_TEACHER__ANNOTATOR", "qwen-import")
    rest = annotate(return_state=True).result()
    assert (rest.to_annotate, rest.annotated, rest.failures) == (2, 0, 2)


@pytest.fixture
def openai_env(monkeypatch):
    with OpenAIServer() as server:
        monkeypatch.setenv("UPSCWAY_TEACHER__BACKEND", "openai")
        monkeypatch.setenv("UPSCWAY_TEACHER__BASE_URL", server.base_url)
        monkeypatch.setenv("UPSCWAY_TEACHER__MODEL", "qwen2.5-72b-test")
        monkeypatch.setenv("UPSCWAY_TEACHER__BACKOFF_BASE_S", "0.01")
        monkeypatch.setenv("UPSCWAY_TEACHER__TIMEOUT_S", "2")
        monkeypatch.setenv("UPSCWAY_TEACHER__BATCH_SIZE", "8")
        monkeypatch.setenv("UPSCWAY_TEACHER__PRICE_PER_1K_INPUT", "1.0")
        monkeypatch.setenv("UPSCWAY_TEACHER_API_KEY", KEY)
        yield server


def test_openai_teacher_stores_labels_from_logprobs_records_failures_and_leaks_no_key(demo_store, openai_env, caplog):
    server = openai_env
    texts = dict(rows(demo_store, "SELECT text_hash, any_value(text) FROM chunks GROUP BY 1"))
    bad_text = sorted(texts.values())[0]
    server.default = lambda text: (
        (200, {}, b'{"choices": [{"message": {"content": "I think"}}]}')
        if text == bad_text
        else server._respond("ok", text)
    )
    server.script = ["429", "500"]
    server.retry_after = "0.1"

    with caplog.at_level(logging.DEBUG):
        state = annotate(return_state=True)

    assert state.name == COMPLETED_WITH_FAILURES
    summary = state.result()
    assert summary.annotated == len(texts) - 1 and summary.failures == 1
    assert summary.cost == pytest.approx(0.12 * (len(texts) - 1))
    stored = dict(rows(demo_store, "SELECT text_hash, label_index FROM annotations"))
    assert all(stored[h] == hashed_label(texts[h]) for h in stored)
    (reason,) = rows(demo_store, "SELECT reason FROM failures WHERE stage = 'annotate'")[0]
    assert "not a label" in reason
    # The key went to the server, and nowhere else.
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"
    assert KEY not in caplog.text
    for table in ("annotations", "failures", "flow_runs"):
        assert KEY not in str(rows(demo_store, f"SELECT * FROM {table}"))

    requests_before = server.requests
    again = annotate(return_state=True).result()
    assert again.to_annotate == 1  # only the failed one is asked again
    assert server.requests - requests_before == 2  # the bad answer and its one retry


def test_hostile_replies_fail_their_own_chunks_and_every_good_answer_is_stored(demo_store, openai_env, monkeypatch):
    """One chunk per hostile reply (NaN, infinite or overflowing logprobs, the wrong shape, a
    reply past the size cap): each a failure row naming what was wrong, every other answer
    stored, and no number in the store that is not finite."""
    server = openai_env
    monkeypatch.setenv("UPSCWAY_TEACHER__MAX_REPLY_BYTES", "65536")
    texts = dict(rows(demo_store, "SELECT text_hash, any_value(text) FROM chunks GROUP BY 1"))
    kinds = [*HOSTILE_REPLIES, "huge"]
    bad = dict(zip(sorted(texts)[: len(kinds)], kinds))  # text hash -> how its reply is spoilt
    by_text = {texts[h]: kind for h, kind in bad.items()}
    server.default = lambda text: (
        (200, {}, hostile(by_text[text], LETTERS[hashed_label(text)]))
        if by_text.get(text) in HOSTILE_REPLIES
        else server._respond(by_text.get(text, "ok"), text)
    )

    state = annotate(return_state=True)

    assert state.name == COMPLETED_WITH_FAILURES
    summary = state.result()
    assert (summary.annotated, summary.failures) == (len(texts) - len(bad), len(bad))
    stored = dict(rows(demo_store, "SELECT text_hash, label_index FROM annotations"))
    assert set(stored) == set(texts) - set(bad) and all(stored[h] == hashed_label(texts[h]) for h in stored)
    failed = dict(rows(demo_store, "SELECT substr(item, 11), reason FROM failures WHERE stage = 'annotate'"))
    assert set(failed) == set(bad)
    assert "max_reply_bytes" in failed[next(h for h, k in bad.items() if k == "huge")]
    assert all(failed[h].startswith("reply refused: ") for h, k in bad.items() if k != "huge")
    not_finite = "list_bool_or(list_transform(probs, lambda p: NOT isfinite(p))) OR NOT isfinite(confidence) OR NOT isfinite(cost)"
    assert rows(demo_store, f"SELECT count(*) FROM annotations WHERE {not_finite}") == [(0,)]


def test_a_killed_run_resumes_without_asking_again_what_was_stored(demo_store, tmp_path):
    with OpenAIServer(latency_s=0.15) as server:
        env = child_env()
        env.update(
            PREFECT_API_URL=PREFECT_API_URL.value(),
            UPSCWAY_DATA_DIR=str(tmp_path / "data"),
            UPSCWAY_TEACHER_API_KEY=KEY,
            UPSCWAY_TEACHER__BACKEND="openai",
            UPSCWAY_TEACHER__BASE_URL=server.base_url,
            UPSCWAY_TEACHER__BATCH_SIZE="4",
            UPSCWAY_TEACHER__CONCURRENCY="2",
        )
        command = [sys.executable, "-m", "upscway.cli", "run", "annotate"]
        total = rows(demo_store, "SELECT count(DISTINCT text_hash) FROM chunks")[0][0]

        victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            stored = rows(demo_store, "SELECT count(*) FROM annotations")[0][0] if victim.poll() is None else None
            if stored and stored >= 8:
                break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        survived = {h for (h,) in rows(demo_store, "SELECT text_hash FROM annotations")}
        texts = dict(rows(demo_store, "SELECT text_hash, any_value(text) FROM chunks GROUP BY 1"))
        asked_before = dict(server.per_text)
        assert 8 <= len(survived) < total

        resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert rows(demo_store, "SELECT count(*), count(DISTINCT text_hash) FROM annotations") == [(total, total)]
        for text_hash in survived:  # stored before the kill: never asked again
            assert server.per_text[texts[text_hash]] == asked_before[texts[text_hash]] == 1
        assert all(n <= 2 for n in server.per_text.values())  # at most the in-flight ones twice


def test_source_limit_and_only_unlabeled_select_what_is_sent(demo_store, openai_env):
    server = openai_env
    by_source = dict(
        rows(
            demo_store,
            "SELECT a.source, count(DISTINCT c.text_hash) FROM chunks c JOIN articles a ON a.id = c.article_id GROUP BY 1",
        )
    )

    pib = annotate(source="pib", return_state=True).result()
    assert pib.annotated == by_source["pib"] == server.requests

    limited = annotate(limit=3, return_state=True).result()
    assert limited.annotated == 3

    # The embedding teacher, asked only for chunks no teacher has labelled, skips those 3 + pib's.
    total = sum(by_source.values())
    unlabeled = annotate(teacher="embedding", only_unlabeled=True, return_state=True).result()
    assert unlabeled.annotated == total - by_source["pib"] - 3


def test_api_key_from_a_prefect_secret_block(demo_store, openai_env, monkeypatch):
    from prefect.blocks.system import Secret

    Secret(value="sk-from-block-123").save("upscway-teacher-key", overwrite=True)
    monkeypatch.delenv("UPSCWAY_TEACHER_API_KEY")
    monkeypatch.setenv("UPSCWAY_TEACHER__API_KEY_SECRET", "upscway-teacher-key")

    annotate(limit=1, return_state=True).result()

    assert openai_env.headers[-1]["Authorization"] == "Bearer sk-from-block-123"
    assert "sk-from-block-123" not in str(rows(demo_store, "SELECT * FROM annotations"))


def test_a_local_causal_lm_teaches_through_the_same_flow(demo_store, tmp_path, monkeypatch):
    from tests.support.tiny_lm import build_tiny_lm

    monkeypatch.setenv("UPSCWAY_TEACHER__LOCAL_MODEL", str(build_tiny_lm(tmp_path / "tiny-student")))

    summary = annotate(teacher="transformers", limit=5, return_state=True).result()

    assert summary.annotated == 5 and summary.annotator == "causal-lm:tiny-student"
    assert rows(
        demo_store,
        "SELECT count(*) FROM annotations WHERE annotator = 'causal-lm:tiny-student' AND abs(list_sum(probs) - 1) < 1e-5",
    ) == [(5,)]
