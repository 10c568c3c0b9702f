from upscway.storage.staging import StagedBatch, leftovers, prune


def test_leftovers_are_the_complete_batches_of_runs_not_live(tmp_path):
    staging = tmp_path / "staging"
    StagedBatch(staging / "dead" / "batch-1").write([{"id": "a"}], [], [])
    (staging / "dead" / "batch-2.partial").mkdir()
    StagedBatch(staging / "live" / "batch-3").write([], [], [])
    left = leftovers(staging, {"live"})
    assert left.folders == [staging / "dead"] and [b.path.name for b in left.batches] == ["batch-1"]
    left.remove()
    assert sorted(p.name for p in staging.iterdir()) == ["live"]
    assert leftovers(tmp_path / "none", set()).batches == []


def test_prune_keeps_a_dead_runs_complete_batches_and_removes_the_rest(tmp_path):
    staging = tmp_path / "staging"
    StagedBatch(staging / "dead" / "batch-1").write([], [], [])
    (staging / "dead" / "batch-2.partial").mkdir()
    (staging / "dead" / "model-x" / "data").mkdir(parents=True)
    (staging / "gone" / "model-y").mkdir(parents=True)
    (staging / "live" / "model-z").mkdir(parents=True)
    prune(staging, {"live"})
    assert sorted(str(p.relative_to(staging)) for p in staging.glob("*/*")) == ["dead/batch-1", "live/model-z"]
