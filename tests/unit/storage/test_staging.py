from upscway.storage.staging import StagedBatch, leftovers


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
