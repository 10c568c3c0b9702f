"""The concurrency limits on a real Prefect API: two processes that start at the same moment on a
server that has none yet both find them missing; the second's create must not fail its run."""

from prefect import flow
from prefect.client.orchestration import SyncPrefectClient, get_client

from upscway.settings import LimitsSettings
from upscway.tasks.limits import DUCKDB_WRITER, TEACHER_REQUESTS, ensure_limits


def test_limits_created_by_another_process_in_between_are_taken_as_they_are(monkeypatch):
    with get_client(sync_client=True) as client:
        for name in (TEACHER_REQUESTS, DUCKDB_WRITER):
            try:
                client.delete_global_concurrency_limit_by_name(name)
            except Exception:  # noqa: BLE001 - absent already
                pass
    real_create = SyncPrefectClient.create_global_concurrency_limit

    def raced(self, limit):
        real_create(self, limit.model_copy(update={"limit": 1}))  # the other process, a moment earlier
        return real_create(self, limit)  # ours: ObjectAlreadyExists from the server

    monkeypatch.setattr(SyncPrefectClient, "create_global_concurrency_limit", raced)

    @flow
    def starts():
        ensure_limits(LimitsSettings(teacher_requests=7, duckdb_writer=1))

    starts()
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(TEACHER_REQUESTS).limit == 7  # then set to this run's size
        assert client.read_global_concurrency_limit_by_name(DUCKDB_WRITER).limit == 1
