"""The concurrency-limit helpers outside a run."""

from prefect.settings import PREFECT_API_URL, temporary_settings

from upscway.tasks.limits import teacher_slots, writer_slot


def test_limits_are_not_taken_outside_a_prefect_run():
    """Outside a run (a unit test, `gold import`) the slots never reach for the API: pointed at a
    port where nothing listens, taking them would fail with a connection error."""
    entered = []
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        with teacher_slots(8), writer_slot():
            entered.append(True)
    assert entered == [True]
