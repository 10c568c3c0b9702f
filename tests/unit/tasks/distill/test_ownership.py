"""A model in training belongs to its run while that run is alive: another run is refused it
(and refused a rival of the same stage); once the run's process is gone, or the run crashed, the
next run takes the model over to resume it."""

import os
import socket

import pytest

from tests.support.models import new_model
from upscway.processes import ProcessId
from upscway.storage import models as registry
from upscway.storage import runs
from upscway.tasks.distill.ownership import TrainingElsewhere, claim_interrupted, registering, training_elsewhere

ALIVE = ProcessId.current()
ELSEWHERE = ProcessId("another-host", 1, 0.0)  # this host cannot see it end: alive
GONE = ProcessId(socket.gethostname(), os.getpid(), 0.0)  # this pid, but started at another time: not it


def _training(store, model_id, run_id, process):
    with store.transaction() as conn:
        runs.start_run(conn, run_id, "distill", {}, process)
        registry.register(
            conn,
            new_model(model_id, run_id=run_id),
        )


def _owner(store, model_id):
    with store.reader() as conn:
        return conn.execute("SELECT flow_run_id FROM models WHERE id = ?", [model_id]).fetchone()[0]


@pytest.mark.parametrize("process", [ALIVE, ELSEWHERE], ids=["this-host", "another-host"])
def test_a_model_a_live_run_trains_is_refused_to_another_run(store, process):
    _training(store, "m1", "first", process)

    with pytest.raises(
        TrainingElsewhere,
        match=rf"m1 \(stage s\) is being trained by run first, process {process.pid} on {process.host}, still alive",
    ):
        claim_interrupted(store, "second", "c", "s", "t")
    with pytest.raises(TrainingElsewhere):  # nor may it register a rival
        with registering(store, "second", "c", "s", "t"):
            pytest.fail("registered beside a live run's model")
    assert "chain c is being trained by another run: m1" in training_elsewhere(store, "c")
    assert _owner(store, "m1") == "first"

    assert claim_interrupted(store, "first", "c", "s", "t").id == "m1"  # its own run resumes it
    assert (
        claim_interrupted(store, "second", "c", "s", "another teacher") is None
    )  # another teacher's is not its business
    with registering(store, "second", "c", "s", "another teacher") as conn:
        conn.execute("SELECT 1")


@pytest.mark.parametrize("ended", ["process gone", "run crashed"])
def test_a_model_whose_run_ended_is_taken_over_by_the_next_run(store, ended):
    _training(store, "m1", "first", GONE if ended == "process gone" else ALIVE)
    if ended == "run crashed":
        with store.transaction() as conn:
            runs.mark_crashed(conn, "first", "killed")

    assert training_elsewhere(store, "c") is None
    with store.transaction() as conn:
        runs.start_run(conn, "second", "distill", {}, ALIVE)
    assert claim_interrupted(store, "second", "c", "s", "t").id == "m1"
    assert _owner(store, "m1") == "second"
    with pytest.raises(TrainingElsewhere, match="by run second"):  # and is the new run's now
        claim_interrupted(store, "third", "c", "s", "t")
