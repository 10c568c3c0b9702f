"""The tag flow: the production student decides what it is sure of, the teacher the rest; the
nightly audit, a broken certificate's fallback, held until a student retrained on the new news is
certified on it; a tag run SIGKILLed mid-way
and run again."""

import math
import signal
import subprocess
import sys
import time
from pathlib import Path

from prefect.settings import PREFECT_API_URL

from tests.integration.conftest import child_env, lenient_gate, rows
from tests.support.openai_server import OpenAIServer
from upscway.flows.distill import distill
from upscway.flows.ingest import ingest
from upscway.resources import DEPLOYMENTS_DIR
from upscway.storage import models as model_rows
from upscway.storage.store import Store


def test_tag_cascade_routes_by_confidence(trained_store, monkeypatch):
    from upscway.flows.promote import promote
    from upscway.flows.tag import tag

    annotated_store, model = trained_store

    total = rows(annotated_store, "SELECT count(*) FROM chunks")[0][0]
    # No production model yet: the teacher decides everything (its answers are already stored).
    first = tag(limit=20, return_state=True).result()
    assert first.production_model is None and first.by_teacher == 20 and first.offload_rate == 0.0
    assert first.teacher_requests == 0  # the embedding teacher had answered them all: nothing sent twice

    promote(model=model, force=True, reason="test the cascade", return_state=True).result()

    monkeypatch.setenv("UPSCWAY_CASCADE__CONFIDENCE_THRESHOLD", "0")
    monkeypatch.setenv("UPSCWAY_CASCADE__CALIBRATION_RATE", "0")  # no article drawn for the teacher: all the student's
    monkeypatch.setenv(
        "UPSCWAY_CASCADE__WITHHOLD_UNPROVEN", "false"
    )  # routing is the matter, not a night this small proving its loss
    monkeypatch.setenv("UPSCWAY_CASCADE__DRIFT_LIMIT", "0.35")  # production's: the fallback below is the detector's
    monkeypatch.setenv("UPSCWAY_CASCADE__RELEVANCE_BAND", "[2, 3]")  # no relevance is uncertain
    monkeypatch.setenv(
        "UPSCWAY_CASCADE__MAX_LOSS", "0.95"
    )  # what its audit holds a one-epoch student to, until it breaks below
    built = []
    with monkeypatch.context() as patch:
        patch.setattr("upscway.tasks.resources.make_teacher", lambda *args: built.append(args))
        confident = tag(limit=30, return_state=True).result()
    assert built == []  # the student was sure of every chunk: no teacher was built, let alone loaded
    assert confident.production_model == model and confident.by_student == 30 and confident.offload_rate == 1.0
    assert confident.agreement_on_both_labelled is not None and confident.both_labelled == 30
    assert confident.confidence_threshold == 0 and set(confident.drift.model_dump()) == {
        "night_mean_confidence",
        "validation_mean_confidence",
        "night_deferral",
        "validation_deferral",
        "reference",
        "warning",
    }

    audit = confident.audit
    assert (audit.night, audit.decided, audit.fallback) == (1, 30, False) and audit.requests_saved == 30 - audit.audited
    assert rows(annotated_store, "SELECT count(*) FROM audits") == [(audit.audited,)]

    # The certificate breaks: every decided chunk audited, a bound this one-epoch student cannot keep.
    monkeypatch.setenv("UPSCWAY_CASCADE__AUDIT_RATE", "1")
    monkeypatch.setenv("UPSCWAY_CASCADE__MAX_LOSS", "0.01")
    state = tag(limit=20, return_state=True)
    broken = state.result()
    assert state.name == "Fallback" and broken.fallback.new and "certificate broken" in broken.fallback.reason
    # judged before the tags were stored: tonight's went to the teacher
    assert broken.by_student == 0 and broken.by_teacher == 20
    assert broken.audit.detector >= math.log(1 / 0.05) and broken.audit.night == 2  # the detector alarmed
    monkeypatch.setenv("UPSCWAY_CASCADE__MAX_LOSS", "0.95")
    held = tag(limit=10, return_state=True).result()  # later nights do not offload, whatever tonight's audit says
    assert held.fallback.model_dump() == {"new": False, "reason": broken.fallback.reason} and held.by_student == 0
    assert rows(annotated_store, "SELECT count(*), count(cleared_at) FROM fallbacks") == [(1, 0)]

    # A retrained student is not certified on answers that predate the break: it must be certified on the news that broke it.
    lenient_gate(monkeypatch)
    with monkeypatch.context() as untrained:  # any student will do: what it lacks is news since the break
        untrained.setenv("UPSCWAY_DISTILL__EPOCHS", "0")
        retrained = distill(stage="minilm-l3", return_state=True).result().stages["minilm-l3"].model
    stale = promote(model=retrained, return_state=True).result()
    assert stale.verdict == "insufficient-data" and stale.production == "unchanged"
    assert "no certificate" in stale.reasons[0]

    # New news arrives (another day's snapshot on the same feeds) and the teacher tags it while the
    # fallback holds; a student retrained on it is certified on it, and its promotion ends the fallback.
    monkeypatch.setenv("UPSCWAY_INGEST__SNAPSHOT_DIR", str(DEPLOYMENTS_DIR / "demo" / "snapshot-drift"))
    ingest(limit=40, return_state=True).result()
    assert tag(return_state=True).result().by_student == 0
    monkeypatch.setenv(
        "UPSCWAY_DISTILL__EPOCHS", "4"
    )  # one epoch on 64 tokens labels everything NOT_RELEVANT: no precision to judge
    recertified = distill(stage="minilm-l3", return_state=True).result().stages["minilm-l3"].model
    recovered = promote(model=recertified, return_state=True).result()
    assert recovered.verdict == "promote" and recovered.production == recertified, recovered.reasons
    # The broken student keeps its fallback (a rollback to it would not offload); production no longer has one.
    assert rows(annotated_store, "SELECT model_id, cleared_at FROM fallbacks") == [(model, None)]
    calibrated = rows(
        annotated_store, "SELECT cascade->>'calibrated_since' FROM evaluations ORDER BY created_at DESC LIMIT 1"
    )
    assert calibrated[0][0] is not None  # certified only on the answers given since the break

    ingest(limit=10, return_state=True).result()
    monkeypatch.setenv("UPSCWAY_CASCADE__CALIBRATION_RATE", "0.3")  # tonight's draw goes to the teacher
    resumed = tag(return_state=True).result()
    assert resumed.fallback is None and resumed.production_model == recertified
    # tonight's calibration draw went to the teacher on every chunk, whatever the student thought; the rest to the student
    drawn = "SELECT count(*) FROM chunks c JOIN calibration_draws d ON d.article_id = c.article_id WHERE d.flow_run_id = '{}'"
    (calibrating,) = rows(annotated_store, drawn.format(resumed.run_id))[0]
    drawn_rows = f"SELECT count(*) FROM calibration_draws WHERE flow_run_id = '{resumed.run_id}'"
    assert rows(annotated_store, drawn_rows) == [(resumed.calibration_articles,)] and resumed.by_teacher == calibrating
    assert resumed.by_student == resumed.chunks - calibrating > 0
    total = rows(annotated_store, "SELECT count(*) FROM chunks")[0][0]
    assert rows(annotated_store, "SELECT count(*), count(DISTINCT chunk_id) FROM tags") == [(total, total)]
    assert tag(return_state=True).result().chunks == 0


def _poison(folder: Path) -> None:
    """Set the classifier's weights of the model in `folder` to NaN, in the file it is loaded from."""
    import torch
    from safetensors.torch import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    name = next(n for n in weights if n.endswith("classifier.weight"))
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})


def test_a_student_scoring_nan_decides_nothing_and_the_night_falls_back_saying_why(trained_store, monkeypatch):
    """Issue 30, row 8: a production student whose weights turned to NaN, with no audit to catch
    it. Its non-finite scores decide no chunk, reach no stored tag, and the night falls back to
    the teacher with a reason that names them; the fallback holds on later nights."""
    from upscway.flows.promote import promote
    from upscway.flows.tag import tag

    annotated_store, model = trained_store
    promote(model=model, force=True, reason="test a broken student", return_state=True).result()
    with annotated_store.reader() as conn:
        _poison(Path(model_rows.get(conn, model).path))
    monkeypatch.setenv("UPSCWAY_CASCADE__AUDIT_RATE", "0")

    state = tag(limit=30, return_state=True)
    night = state.result()
    assert state.name == "Fallback" and night.fallback.new, night.fallback
    assert "not finite on 30 of 30 chunks" in night.fallback.reason
    assert night.by_student == 0 and night.by_teacher == 30 and night.teacher_requests_saved == 0
    assert rows(annotated_store, "SELECT count(*) FROM tags WHERE decided_by = 'student'") == [(0,)]
    assert rows(
        annotated_store,
        "SELECT count(*) FROM tags WHERE NOT isfinite(confidence) "
        "OR len(list_filter(probs, lambda p: NOT isfinite(p))) > 0",
    ) == [(0,)]
    assert rows(annotated_store, "SELECT model_id, reason FROM fallbacks") == [(model, night.fallback.reason)]
    later = tag(limit=10, return_state=True).result()
    assert later.fallback.new is False and later.by_student == 0


def test_a_killed_tag_run_resumes_and_tags_every_chunk_once(tmp_path, monkeypatch):
    """SIGKILL while the teacher answers the tag run's chunks; the rerun asks it only for what
    it had not stored, and every chunk ends with exactly one tag."""
    monkeypatch.setenv("UPSCWAY_DATA_DIR", str(tmp_path / "data"))
    ingest(return_state=True).result()
    store = Store(tmp_path / "data" / "upscway.duckdb")
    with OpenAIServer(latency_s=0.15) as server:
        env = child_env()
        env.update(
            PREFECT_API_URL=PREFECT_API_URL.value(),
            UPSCWAY_DATA_DIR=str(tmp_path / "data"),
            UPSCWAY_TEACHER_API_KEY="sk-tag",
            UPSCWAY_TEACHER__BACKEND="openai",
            UPSCWAY_TEACHER__BASE_URL=server.base_url,
            UPSCWAY_TEACHER__BATCH_SIZE="4",
            UPSCWAY_TEACHER__CONCURRENCY="2",
        )
        command = [sys.executable, "-m", "upscway.cli", "run", "tag"]
        victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 240
        while victim.poll() is None and time.monotonic() < deadline:
            if rows(store, "SELECT count(*) FROM annotations")[0][0] >= 8:
                break
            time.sleep(0.05)
        assert victim.poll() is None, "the tag run ended before the kill"
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert rows(store, "SELECT count(*) FROM tags") == [(0,)]
        survived = {
            t for (t,) in rows(store, "SELECT c.text FROM annotations a JOIN chunks c ON c.text_hash = a.text_hash")
        }

        resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    assert resumed.returncode == 0, resumed.stderr[-2000:]
    total = rows(store, "SELECT count(*) FROM chunks")[0][0]
    assert rows(store, "SELECT count(*), count(DISTINCT chunk_id) FROM tags") == [(total, total)]
    assert survived and all(server.per_text[text] == 1 for text in survived)  # stored before the kill: not asked again
    assert all(n <= 2 for n in server.per_text.values())  # at most the in-flight ones twice
    assert rows(store, "SELECT status FROM flow_runs WHERE flow = 'tag' ORDER BY started_at") == [
        ("crashed",),
        ("completed",),
    ]
