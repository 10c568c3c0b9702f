import pytest

from tests.support.models import new_model
from upscway.storage import models as registry


def _model(conn, model_id):
    registry.register(
        conn,
        new_model(model_id),
    )


def test_promote_and_rollback_move_the_alias(store):
    with store.transaction() as conn:
        _model(conn, "m1")
        _model(conn, "m2")
        assert registry.move_alias(conn, "production", "m1", "promote") is None
        assert registry.move_alias(conn, "production", "m2", "promote") == "m1"
    with store.reader() as conn:
        assert registry.holder(conn, "production") == "m2"
        assert registry.last_promotion(conn, "production") == registry.AliasMove("m2", "m1")


def test_a_failure_in_the_middle_leaves_the_alias_where_it_was(store):
    with store.transaction() as conn:
        _model(conn, "m1")
        registry.move_alias(conn, "production", "m1", "promote")
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            registry.move_alias(conn, "production", "m2-does-not-matter", "promote")
            raise RuntimeError("crash after clearing the alias")
    with store.reader() as conn:
        assert registry.holder(conn, "production") == "m1"
        assert conn.execute("SELECT count(*) FROM alias_moves").fetchone() == (1,)
