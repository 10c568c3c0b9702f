"""Which run trains a model. A registered model stays `training` while the run that registered
it (or last resumed it) trains it; that run's row in `flow_runs` and its process say whether it
still does, as a frontier claim counts while its run is alive.

A model whose run is alive is left alone: a second run does not resume it, nor start a rival
of the same stage and teacher, but stops with the reason (a nightly run skips distillation).
A model whose run died (killed, out of memory, a reboot) is taken over and resumed from its
checkpoints. Both checks run inside the write transaction that claims or registers the model,
so of two runs that get there together, exactly one trains.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from upscway.errors import InputError
from upscway.storage import models as model_rows
from upscway.storage.models import ModelRecord, Training
from upscway.storage.store import Store


class TrainingElsewhere(InputError):
    """Another run, still alive, is training this stage: this run does not train it too."""


def why_busy(training: Training) -> str:
    """One line: which model, and which live run trains it."""
    process = training.process
    return (
        f"{training.model_id} (stage {training.stage}) is being trained by run {training.run_id}, "
        f"process {process.pid} on {process.host}, still alive: wait for that run to finish"
    )


def live_elsewhere(
    conn: duckdb.DuckDBPyConnection, run_id: str, chain: str, stage: str, teacher: str
) -> Training | None:
    """The model of this stage and teacher that a live run other than `run_id` trains, if any."""
    return next(
        (t for t in model_rows.in_training(conn, chain, stage, teacher) if t.run_id != run_id and t.is_live()), None
    )


def claim_interrupted(store: Store, run_id: str, chain: str, stage: str, teacher: str) -> ModelRecord | None:
    """The interrupted training of this stage and teacher to resume, now `run_id`'s; None when
    there is none. Raises TrainingElsewhere when a live run still trains it."""
    with store.transaction() as conn:
        busy = live_elsewhere(conn, run_id, chain, stage, teacher)
        resumable = None if busy else model_rows.unfinished(conn, chain, stage, teacher)
        if resumable is not None:
            model_rows.take_over(conn, resumable.id, run_id)
    if busy:
        raise TrainingElsewhere(why_busy(busy))
    return resumable


@contextmanager
def registering(store: Store, run_id: str, chain: str, stage: str, teacher: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """The write transaction to register a new model of this stage and teacher in; when a live
    run other than `run_id` registered one first, TrainingElsewhere instead (and nothing runs)."""
    with store.transaction() as conn:
        busy = live_elsewhere(conn, run_id, chain, stage, teacher)
        if busy is None:
            yield conn
            return
    raise TrainingElsewhere(why_busy(busy))


def training_elsewhere(store: Store, chain: str) -> str | None:
    """Why the chain should not be distilled now (a live run trains one of its stages), or None."""
    with store.reader() as conn:
        live = [t for t in model_rows.in_training(conn, chain) if t.is_live()]
    return f"chain {chain} is being trained by another run: {why_busy(live[0])}" if live else None
